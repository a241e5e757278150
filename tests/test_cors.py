"""CORS as the spec's "Web browser clients" section asks, on the open APIs only.

Every `/_matrix/…` and `/.well-known/matrix/…` answer, errors and guard refusals included,
lets any origin read it; every `OPTIONS` preflight there is answered 204 without a token,
known path or not. The OAuth endpoints a public client calls from a browser do the same.
The cookie-authenticated pages never carry a CORS header, and nothing ever allows
credentials. (A real browser proves the same in tests/e2e/test_cors_browser.py.)
"""

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient

pytestmark = pytest.mark.engines("sqlite")

V3 = "/_matrix/client/v3"
ORIGIN = {"Origin": "https://app.element.io"}
PREFLIGHT = {
    **ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def assert_open(r: httpx.Response) -> None:
    assert r.headers["access-control-allow-origin"] == "*"
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= methods
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"x-requested-with", "content-type", "authorization"} <= allowed
    assert "access-control-allow-credentials" not in r.headers


def assert_closed(r: httpx.Response) -> None:
    assert not [name for name in r.headers if name.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    "path",
    [
        f"{V3}/rooms/!room:test.local/send/m.room.message/txn1",  # known, needs a token
        f"{V3}/sync",
        "/_matrix/client/versions",
        f"{V3}/no/such/endpoint",  # unknown
        "/_matrix/media/v3/upload",  # not served (yet): the browser may still ask
        "/.well-known/matrix/client",
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/.well-known/oauth-authorization-server",
    ],
)
async def test_a_preflight_is_answered_204_for_every_open_path(
    http: httpx.AsyncClient, path: str
) -> None:
    r = await http.options(path, headers=PREFLIGHT)
    assert r.status_code == 204
    assert r.content == b""
    assert_open(r)
    assert int(r.headers["access-control-max-age"]) > 0


async def test_answers_and_errors_on_the_matrix_api_are_readable_cross_origin(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await http.get("/_matrix/client/versions", headers=ORIGIN)
    assert r.status_code == 200
    assert_open(r)
    r = await http.get(f"{V3}/sync", headers={**ORIGIN, **alice.headers})
    assert r.status_code == 200
    assert_open(r)
    for r in (
        await http.get(f"{V3}/sync", headers=ORIGIN),  # 401 M_MISSING_TOKEN
        await http.get(f"{V3}/no/such/endpoint", headers=ORIGIN),  # 404 M_UNRECOGNIZED
        await http.post(f"{V3}/createRoom", content=b"{", headers={**ORIGIN, **alice.headers}),
    ):
        assert r.status_code >= 400
        assert r.json()["errcode"].startswith("M_")
        assert_open(r)


async def test_the_body_guards_refusal_is_readable_too(settings: Settings) -> None:
    small = settings.model_copy(
        update={"http": settings.http.model_copy(update={"max_request_bytes": 64})}
    )
    app = create_app(small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            r = await http.post(f"{V3}/createRoom", content=b"x" * 100, headers=ORIGIN)
    assert (r.status_code, r.json()["errcode"]) == (413, "M_TOO_LARGE")
    assert_open(r)


async def test_an_unexpected_500_on_the_matrix_api_is_readable(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route(f"{V3}/boom", boom)
    async with app.router.lifespan_context(app):
        # Starlette re-raises after answering; the test reads the answer instead.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            r = await http.get(f"{V3}/boom", headers=ORIGIN)
    assert (r.status_code, r.json()["errcode"]) == (500, "M_UNKNOWN")
    assert "a bug" not in r.text
    assert_open(r)


async def test_the_oauth_token_endpoint_answers_cross_origin_without_credentials(
    http: httpx.AsyncClient,
) -> None:
    r = await http.post(
        "/oauth/token", data={"grant_type": "authorization_code", "code": "nope"}, headers=ORIGIN
    )
    assert r.status_code in (400, 401)
    assert_open(r)
    r = await http.get("/.well-known/oauth-authorization-server", headers=ORIGIN)
    assert r.status_code == 200
    assert_open(r)


@pytest.mark.parametrize(
    "path", ["/", "/login", "/privacy/accesses", "/privacy/grants", "/oauth/authorize", "/portal"]
)
async def test_cookie_pages_stay_closed_to_other_origins(
    http: httpx.AsyncClient, path: str
) -> None:
    assert_closed(await http.get(path, headers=ORIGIN))
    preflight = await http.options(path, headers=PREFLIGHT)
    assert preflight.status_code != 204
    assert_closed(preflight)


async def test_partner_and_candor_apis_are_not_opened(http: httpx.AsyncClient) -> None:
    """Only the Matrix API and the browser-facing OAuth endpoints are open: Candor's own
    administration and partner APIs are for servers, not for pages on other origins."""
    for path in ("/_candor/v1/grants", "/partner/v1/rooms", "/_candor/admin/v1/users"):
        assert_closed(await http.get(path, headers=ORIGIN))
