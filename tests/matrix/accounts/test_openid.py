"""OpenID tokens (issue 18): `POST /user/{userId}/openid/request_token` and the userinfo a
widget or integration checks them at."""

from collections.abc import AsyncIterator

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

USERINFO = "/_matrix/federation/v1/openid/userinfo"


@pytest.fixture
async def timed(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test.local",
            event_hooks=spec_event_hooks(),
        ) as http,
    ):
        yield http


async def test_an_openid_token_names_its_user_until_it_expires(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await MatrixTestClient.register(timed, "alice")
    issued = await alice.ok("POST", f"/user/{alice.user_id}/openid/request_token", json={})
    assert issued["token_type"] == "Bearer"
    assert issued["matrix_server_name"] == "test.local"
    assert issued["expires_in"] == 3600
    assert issued["access_token"] != alice.token
    r = await timed.get(USERINFO, params={"access_token": issued["access_token"]})
    assert r.status_code == 200
    assert r.json() == {"sub": alice.user_id}
    # Not single use: a widget may check it again.
    assert (await timed.get(USERINFO, params={"access_token": issued["access_token"]})).json() == {
        "sub": alice.user_id
    }
    # It is no access token.
    r = await timed.get(
        "/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {issued['access_token']}"},
    )
    assert r.status_code == 401
    clock.set_ms(clock.now_ms() + 3600 * 1000)
    r = await timed.get(USERINFO, params={"access_token": issued["access_token"]})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_refusals(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    r = await alice.request("POST", f"/user/{bob.user_id}/openid/request_token", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await http.post(f"/_matrix/client/v3/user/{alice.user_id}/openid/request_token", json={})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    for token in (alice.token, "cdr_oi_unknown", ""):
        r = await http.get(USERINFO, params={"access_token": token})
        assert r.status_code == 401, token
        assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"
    r = await http.get(USERINFO)
    assert r.status_code == 400
