"""Issue 13 item 6: every absolute URL Candor emits comes from `http.public_base_url`.

(Here beside the share tests for their scene: an approved app, three people, browsers;
the checks cover OAuth, room grants and the privacy pages as well.)

Every request in these scenarios carries a foreign `Host: evil.example`, as a client, a
partner or a misconfigured proxy could send. Whatever Candor shows to anyone (the OAuth
metadata and introspection, grant notices in rooms, share links and cards, the privacy
page) must name the configured URL, and `evil.example` must appear in no response at all.
On both engines, through the real app.
"""

import importlib
import pkgutil
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

import candor.web.routes
from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.partners.inbox.conftest import token_for
from tests.share.conftest import CARD, Scene, last_card

PUBLIC = "https://candor.example.org"
FOREIGN = "evil.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The web tests' settings, but the server, reached at http://test.local, says it
    lives at PUBLIC."""
    http = settings.http.model_copy(update={"public_base_url": PUBLIC})
    return settings.model_copy(update={"http": http})


class Seen:
    """Every response the clients received, headers and body, to search afterwards."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        self.texts.append(f"{response.request.url}\n{headers}\n{response.text}")

    def watch(self, client: httpx.AsyncClient) -> None:
        """Send the foreign Host on every request of `client` and record its answers."""
        client.headers["Host"] = FOREIGN
        client.event_hooks["response"].append(self.hook)

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)


@pytest.fixture
def seen(scene: Scene) -> Seen:
    """The API client (Matrix, partner and OAuth calls) sends the foreign Host from now on."""
    watcher = Seen()
    watcher.watch(scene.env.api)
    return watcher


async def _browser(scene: Scene, seen: Seen, who: MatrixTestClient) -> WebTestClient:
    browser = await scene.browser(who)
    seen.watch(browser.http)
    return browser


def _urls_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith(("http://", "https://")) else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls_in(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls_in(v)]
    return []


def _assert_nothing_foreign(seen: Seen) -> None:
    assert seen.texts, "no response was recorded"
    for text in seen:
        assert FOREIGN not in text.split("\n", 1)[1], text[:2000]


async def test_oauth_metadata_and_introspection_name_the_configured_issuer(
    scene: Scene, seen: Seen
) -> None:
    r = await scene.env.api.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    body = r.json()
    assert body["issuer"] == PUBLIC
    urls = _urls_in(body)
    assert len(urls) >= 6
    assert all(u.startswith(PUBLIC + "/") or u == PUBLIC for u in urls), urls

    browser = await _browser(scene, seen, scene.alice)
    tokens = await scene.env.tokens(scene.app, browser)
    r = await scene.env.api.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"]},
        auth=(scene.app.client_id, str(scene.app.secret)),
    )
    assert r.status_code == 200, r.text
    assert r.json()["iss"] == PUBLIC
    _assert_nothing_foreign(seen)


async def test_share_confirm_url_and_card_links_use_the_configured_url(
    scene: Scene, seen: Seen
) -> None:
    room = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(room)
    token = await token_for(scene.env, scene.app, "alice", "profile share")
    r = await scene.env.api.post(
        "/partner/v1/shares", json=CARD, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    request_id = r.json()["share_request_id"]
    assert r.json()["confirm_url"] == f"{PUBLIC}/share?request={request_id}"

    browser = await _browser(scene, seen, scene.alice)
    r = await scene.send(browser, [room], note="Watch this!")
    assert r.status_code == 200, r.text
    content = (await last_card(scene.bob, room))["content"]
    link = content["io.candor.card"]["link"]
    assert link.startswith(f"{PUBLIC}/c/cdr_ct_")
    assert link in content["body"]
    # The link works once the recipient follows it on the real server.
    bob_browser = await _browser(scene, seen, scene.bob)
    click = await bob_browser.get(link.removeprefix(PUBLIC))
    assert click.status_code == 302
    assert click.headers["location"] == CARD["url"]
    _assert_nothing_foreign(seen)


async def _notice(who: MatrixTestClient, room: str) -> dict[str, Any]:
    chunk = (await who.messages(room, dir="b", limit=10))["chunk"]
    content: dict[str, Any] = next(e for e in chunk if e["type"] == "m.room.message")["content"]
    return content


async def test_grant_notices_from_the_api_and_the_page_link_the_configured_url(
    scene: Scene, seen: Seen
) -> None:
    inbox_app = await scene.env.client(scopes="profile inbox.read")
    answer_url = f"{PUBLIC}/privacy/grants"

    by_api = await scene.alice.create_room(preset="public_chat", name="Asked by API")
    await scene.bob.join(by_api)
    r = await scene.env.api.post(
        f"/_candor/v1/rooms/{by_api}/grants",
        json={"client_id": inbox_app.client_id, "days": 7},
        headers=scene.alice.headers,
    )
    assert r.status_code == 200, r.text
    notice = await _notice(scene.bob, by_api)
    assert notice["org.candor.grant"]["answer_url"] == answer_url
    assert answer_url in notice["body"]

    by_page = await scene.alice.create_room(preset="public_chat", name="Asked on the page")
    await scene.carol.join(by_page)
    browser = await _browser(scene, seen, scene.alice)
    page = await browser.get("/privacy/grants")
    assert page.status_code == 200
    r = await browser.post_form(
        "/privacy/grants/ask",
        {
            "csrf_token": csrf_token_in(page.text),
            "room_id": by_page,
            "client_id": inbox_app.client_id,
            "days": "7",
        },
    )
    assert r.status_code == 303, r.text
    notice = await _notice(scene.carol, by_page)
    assert notice["org.candor.grant"]["answer_url"] == answer_url
    assert answer_url in notice["body"]
    _assert_nothing_foreign(seen)


async def test_the_privacy_page_names_the_configured_server_to_check(
    scene: Scene, seen: Seen
) -> None:
    browser = await _browser(scene, seen, scene.alice)
    page = await browser.get("/privacy/accesses")
    assert page.status_code == 200
    assert f"candor audit verify \\\n  --server {PUBLIC} \\\n" in unescape(page.text)
    _assert_nothing_foreign(seen)


async def test_no_get_route_repeats_a_foreign_host(scene: Scene, seen: Seen) -> None:
    """Every GET route without path parameters, from a logged-in browser and a Matrix client,
    with and without a trailing slash (Starlette's slash redirect named the Host)."""
    openapi = (await scene.env.api.get("/_candor/openapi.json")).json()
    api_paths = {p for p, ops in openapi["paths"].items() if "get" in ops and "{" not in p}
    page_paths = {
        route.path
        for module in pkgutil.iter_modules(candor.web.routes.__path__)
        for route in importlib.import_module(f"candor.web.routes.{module.name}").router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and "{" not in route.path
    }
    paths = sorted(api_paths | page_paths)
    assert "/privacy/grants" in paths
    assert "/.well-known/oauth-authorization-server" in paths
    browser = await _browser(scene, seen, scene.alice)
    redirected = 0
    for path in paths:
        variant = path.rstrip("/") if path.endswith("/") and path != "/" else path + "/"
        for target in (path, variant):
            r = await browser.get(target)
            assert r.status_code < 500, (target, r.text)
            location = r.headers.get("location", "")
            assert not location.startswith("//"), location
            redirected += r.status_code in (307, 308)
            await scene.env.api.get(target, headers=scene.alice.headers)
    assert redirected > 0  # the trailing-slash redirects were exercised
    _assert_nothing_foreign(seen)
