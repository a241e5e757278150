"""The layout around every page: the start page, the stylesheet, security headers on web
pages (not on the APIs), and HTML error pages where the APIs keep their JSON errors."""

import re

import httpx
import pytest

from candor.web.templating import STATIC_DIR, TEMPLATES_DIR
from tests.helpers.matrix import MatrixTestClient
from tests.web.conftest import WebEnv

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _assert_security_headers(headers: httpx.Headers) -> None:
    assert headers.get("content-security-policy") == CSP
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"


async def test_the_start_page_invites_a_visitor_to_sign_up_or_log_in(web: WebEnv) -> None:
    r = await web.browser().get("/")

    assert r.status_code == 200
    assert "Candor is a chat server" in r.text
    assert '<a class="button-primary" href="/register">Sign up</a>' in r.text
    assert '<a class="button-secondary" href="/login">Log in</a>' in r.text
    assert '<a href="/partners">Partner apps</a>' in r.text
    assert "Who accessed my data" not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_the_start_page_links_a_logged_in_person_to_their_pages(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    await browser.login("alice")

    r = await browser.get("/")

    assert r.status_code == 200
    assert "Candor is a chat server" in r.text
    main = r.text[r.text.index("<main") :]
    for path in (
        "/privacy/accesses",
        "/privacy/grants",
        "/privacy/shares",
        "/partners/portal",
        "/privacy/apps",
        "/welcome",
    ):
        assert f'<a href="{path}">' in main, path
    assert "/admin/partners" not in r.text  # alice is no administrator
    assert 'action="/logout"' in r.text


@pytest.mark.parametrize("path", ["/", "/login", "/no/such/page", "/static/candor.css"])
async def test_web_pages_send_the_security_headers(web: WebEnv, path: str) -> None:
    r = await web.browser().get(path)

    _assert_security_headers(r.headers)


async def test_the_apis_are_left_alone(web: WebEnv) -> None:
    for path in ("/_matrix/client/versions", "/_candor/transparency/v1/checkpoint", "/health"):
        r = await web.api.get(path)
        assert "content-security-policy" not in r.headers, path


async def test_the_stylesheet_is_served(web: WebEnv) -> None:
    r = await web.browser().get("/static/candor.css")

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in r.text


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/no/such/page", 404, "Page not found"),
        ("GET", "/static/nope.css", 404, "Page not found"),
        ("DELETE", "/login", 405, "Not allowed here"),
        ("GET", "/logout", 405, "Not allowed here"),
    ],
)
async def test_web_errors_are_html_pages(
    web: WebEnv, method: str, path: str, status: int, title: str
) -> None:
    r = await web.browser().http.request(method, path)

    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in r.text
    assert '<link rel="stylesheet" href="/static/candor.css">' in r.text
    _assert_security_headers(r.headers)


async def test_a_bad_form_is_an_html_400(web: WebEnv) -> None:
    browser = web.browser()
    await browser.get("/login")

    r = await browser.http.post(
        "/login",
        content=b"username=a%00b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "The form could not be read" in r.text


async def test_api_errors_stay_json(web: WebEnv) -> None:
    matrix = await web.api.get("/_matrix/client/v3/no/such/endpoint")
    candor = await web.api.get("/_candor/v1/me/accesses")

    assert matrix.status_code == 404
    assert matrix.json()["errcode"] == "M_UNRECOGNIZED"
    assert candor.status_code == 401
    assert candor.json()["errcode"] == "CANDOR_MISSING_TOKEN"


def test_templates_have_no_inline_scripts_or_styles() -> None:
    """The CSP forbids them; a page that used one would silently break."""
    for template in TEMPLATES_DIR.rglob("*.html"):
        text = template.read_text()
        assert "<script" not in text, template
        assert "<style" not in text, template
        assert not re.search(r"\sstyle=", text), template
        assert not re.search(r"\son[a-z]+=", text), template
    assert (STATIC_DIR / "candor.css").is_file()


async def test_web_pages_are_not_in_the_api_document(web: WebEnv) -> None:
    """The OpenAPI document (and the fuzz test built on it) lists APIs only."""
    r = await web.api.get("/_candor/openapi.json")

    paths = set(r.json()["paths"])
    assert paths
    assert not {"/", "/login", "/logout", "/privacy/accesses"} & paths


async def test_requests_refused_before_routing_get_the_error_page_too(web: WebEnv) -> None:
    browser = web.browser()

    nul = await browser.http.get("/login", params={"next": "/\x00"})
    huge = await browser.http.post(
        "/login",
        content=b"a=" + b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    api = await web.api.get("/_matrix/client/versions", params={"x": "\x00"})

    assert (nul.status_code, huge.status_code) == (400, 413)
    for r in (nul, huge):
        assert r.headers["content-type"].startswith("text/html")
        _assert_security_headers(r.headers)
    assert "NUL characters are not allowed" in nul.text
    assert "<h1>Too much data</h1>" in huge.text
    assert api.status_code == 400
    assert api.json()["errcode"] == "M_INVALID_PARAM"
