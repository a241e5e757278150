"""preview_url: off by default; when on, pages are fetched through the webhook address
guard, so a loopback page is refused unless the operator's test override allows it."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.errors import Forbidden
from candor.matrix.media.preview import UrlPreviewService, opengraph
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import CLIENT_MEDIA, MEDIA, media_client

PAGE = b"""<!doctype html><html><head>
<title>  Fallback   title </title>
<meta property="og:title" content="A Candor page">
<meta property="og:description" content="What the page is about">
<meta property="og:site_name" content="Example">
<meta property="og:image" content="http://169.254.169.254/latest/meta-data">
<meta name="description" content="not used: og:description is there">
</head><body><p>Hello</p></body></html>"""


class PageServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: PageServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        if self.path == "/page":
            self._answer(200, "text/html; charset=utf-8", PAGE)
        elif self.path == "/plain":
            self._answer(200, "text/html", b"<title>Only a title</title>")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/file.bin":
            self._answer(200, "application/octet-stream", b"\x00\x01")
        else:
            self._answer(404, "text/html", b"<title>Not here</title>")

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def preview(client: MatrixTestClient, url: str, base: str = CLIENT_MEDIA) -> httpx.Response:
    return await client.http.get(f"{base}/preview_url", params={"url": url}, headers=client.headers)


async def test_previews_are_off_by_default(alice: MatrixTestClient, pages: PageServer) -> None:
    for base in (CLIENT_MEDIA, f"{MEDIA}/v3"):
        r = await preview(alice, pages.url("/page"), base)
        assert r.status_code == 404
        assert r.json()["errcode"] == "M_UNRECOGNIZED"
    assert pages.paths == []  # nothing was fetched


async def test_a_page_is_previewed_when_the_operator_allows_it(
    settings: Settings, pages: PageServer
) -> None:
    async with media_client(
        settings, url_previews=True, url_preview_allow_private_networks=True
    ) as http:
        alice = await MatrixTestClient.register(http, "alice")
        for base in (CLIENT_MEDIA, f"{MEDIA}/v3"):
            r = await preview(alice, pages.url("/page"), base)
            assert r.status_code == 200, r.text
            assert r.json() == {
                "og:title": "A Candor page",
                "og:description": "What the page is about",
                "og:site_name": "Example",
            }
        assert (await preview(alice, pages.url("/plain"))).json() == {"og:title": "Only a title"}
        assert (await preview(alice, pages.url("/moved"))).json()["og:title"] == "A Candor page"
        assert (await preview(alice, pages.url("/file.bin"))).json() == {}

        r = await preview(alice, pages.url("/missing"))
        assert r.status_code == 404
        assert r.json()["errcode"] == "M_NOT_FOUND"

        r = await http.get(f"{CLIENT_MEDIA}/preview_url", params={"url": pages.url("/page")})
        assert r.status_code == 401


async def test_loopback_is_refused_without_the_override(
    settings: Settings, pages: PageServer
) -> None:
    async with media_client(settings, url_previews=True) as http:
        alice = await MatrixTestClient.register(http, "alice")
        for url in (
            pages.url("/page"),
            f"http://localhost:{pages.server_address[1]}/page",
            f"http://[::ffff:127.0.0.1]:{pages.server_address[1]}/page",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
        ):
            r = await preview(alice, url)
            assert r.status_code == 403, url
            assert r.json()["errcode"] == "M_FORBIDDEN"
        for url in ("not a url", "ftp://example.org/", "http://user:pw@example.org/", "/relative"):
            r = await preview(alice, url)
            assert r.status_code == 400, url
            assert r.json()["errcode"] == "M_INVALID_PARAM"
    assert pages.paths == []


async def test_a_name_resolving_inside_the_network_is_refused(pages: PageServer) -> None:
    """A public-looking name that resolves to loopback (DNS rebinding) never connects."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.215.14", "127.0.0.1"]

    service = UrlPreviewService(
        RateLimiter(FakeClock(), enabled=False, per_second=1, burst=1),
        enabled=True,
        allow_private_networks=False,
        resolve=resolve,
    )
    requester = Requester("@alice:test.local", "DEV", is_admin=False, access_token_hash="x")
    with pytest.raises(Forbidden):
        await service.preview(requester, f"http://pages.example:{pages.server_address[1]}/page")
    assert asked == ["pages.example"]
    assert pages.paths == []


def test_opengraph_reads_only_text_tags() -> None:
    html = (
        '<meta property="og:image" content="http://x/y.png">'
        '<meta property="og:image:width" content="10">'
        '<meta name="Description" content=" d ">'
        "<title>t</title>"
        '<meta property="og:title" content="' + "x" * 5000 + '">'
    )
    found = opengraph(html)
    assert found == {"og:title": "x" * 1000, "og:description": "d"}
