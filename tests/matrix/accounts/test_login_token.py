"""Signing in another device (issue 18): `POST /login/get_token` after UIA, then
`m.login.token` on the new device; single use, expiry, capabilities and refusals."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from candor.app import create_app
from candor.config import AccountSettings, Settings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"
PASSWORD_AUTH = {"type": "m.login.password", "user": "alice", "password": "correct horse"}


async def serve(
    settings: Settings, clock: FakeClock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
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


@pytest.fixture
async def timed(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async for http in serve(settings, clock):
        yield http


async def get_token(user: MatrixTestClient, auth: Any = PASSWORD_AUTH) -> httpx.Response:
    body = {} if auth is None else {"auth": auth}
    return await user.http.post(f"{V1}/login/get_token", headers=user.headers, json=body)


async def token_login(http: httpx.AsyncClient, token: object, **extra: Any) -> httpx.Response:
    return await http.post(f"{V3}/login", json={"type": "m.login.token", "token": token, **extra})


async def test_a_login_token_signs_in_a_second_device_once(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await MatrixTestClient.register(timed, "alice")
    # UIA: the first call answers 401 with the password flow, every time.
    r = await get_token(alice, None)
    assert r.status_code == 401
    assert r.json()["flows"] == [{"stages": ["m.login.password"]}]
    r = await get_token(alice)
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["expires_in_ms"] == 120_000

    r = await token_login(timed, issued["login_token"], initial_device_display_name="Phone")
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["user_id"] == alice.user_id
    assert second["device_id"] != alice.device_id
    me = await timed.get(
        f"{V3}/account/whoami", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.json()["device_id"] == second["device_id"]
    devices = await alice.ok("GET", "/devices")
    assert {d["device_id"] for d in devices["devices"]} == {alice.device_id, second["device_id"]}

    # Single use.
    r = await token_login(timed, issued["login_token"])
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_a_login_token_expires_and_can_ask_for_refresh_tokens(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await MatrixTestClient.register(timed, "alice")
    stale = (await get_token(alice)).json()["login_token"]
    clock.set_ms(clock.now_ms() + 119_999)
    fresh = (await get_token(alice)).json()["login_token"]
    clock.set_ms(clock.now_ms() + 1)
    r = await token_login(timed, stale)
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert (await token_login(timed, fresh)).status_code == 200
    live = (await get_token(alice)).json()["login_token"]
    r = await token_login(timed, live, refresh_token=True)
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"]
    assert r.json()["expires_in_ms"] == 300_000


async def test_refusals_change_nothing(http: httpx.AsyncClient, alice: MatrixTestClient) -> None:
    wrong = {**PASSWORD_AUTH, "password": "wrong"}
    r = await get_token(alice, wrong)
    assert (r.status_code, r.json()["errcode"]) == (401, "M_FORBIDDEN")
    assert "login_token" not in r.json()
    r = await http.post(f"{V1}/login/get_token", json={"auth": PASSWORD_AUTH})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    r = await alice.http.post(f"{V1}/login/get_token", headers=alice.headers, json={"auth": 5})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    for token in ("cdr_lt_unknown", alice.token, ""):
        r = await token_login(http, token)
        assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN"), token
    r = await http.post(f"{V3}/login", json={"type": "m.login.token"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_MISSING_PARAM")
    r = await token_login(http, 12)
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    devices = await alice.ok("GET", "/devices")
    assert [d["device_id"] for d in devices["devices"]] == [alice.device_id]


async def test_capabilities_and_login_flows_say_it_is_on(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    caps = (await alice.ok("GET", "/capabilities"))["capabilities"]
    assert caps["m.get_login_token"] == {"enabled": True}
    flows = (await http.get(f"{V3}/login")).json()["flows"]
    assert {"type": "m.login.token", "get_login_token": True} in flows


async def test_turned_off_it_is_not_offered_and_refused(settings: Settings) -> None:
    off = settings.model_copy(update={"accounts": AccountSettings(get_login_token=False)})
    async for http in serve(off):
        alice = await MatrixTestClient.register(http, "alice")
        caps = (await alice.ok("GET", "/capabilities"))["capabilities"]
        assert caps["m.get_login_token"] == {"enabled": False}
        flows = (await http.get(f"{V3}/login")).json()["flows"]
        assert flows == [{"type": "m.login.password"}]
        r = await get_token(alice)
        assert (r.status_code, r.json()["errcode"]) == (400, "M_UNKNOWN")
