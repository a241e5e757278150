"""Refresh tokens (issue 18): expiring access tokens, soft logout, `POST /refresh` rotation,
logout, and an expired or rotated-out token refused on every worker."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from tests.helpers.spec import spec_event_hooks

V3 = "/_matrix/client/v3"
LIFETIME = 300_000  # the default accounts.access_token_lifetime_ms


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test.local",
        event_hooks=spec_event_hooks(),
    )


@pytest.fixture
async def timed(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a clock the test moves."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app), client(app) as http:
        yield http


async def register(http: httpx.AsyncClient, name: str, **extra: Any) -> dict[str, Any]:
    body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}, **extra}
    r = await http.post(f"{V3}/register", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def whoami(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get(f"{V3}/account/whoami", headers={"Authorization": f"Bearer {token}"})


async def refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(f"{V3}/refresh", json={"refresh_token": token})


def soft_logout(r: httpx.Response) -> bool:
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN"), r.text
    return bool(r.json().get("soft_logout"))


async def test_without_asking_tokens_never_expire(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    reg = await register(timed, "alice")
    assert "refresh_token" not in reg
    assert "expires_in_ms" not in reg
    login = await timed.post(
        f"{V3}/login", json={"type": "m.login.password", "user": "alice", "password": "pw"}
    )
    assert "refresh_token" not in login.json()
    clock.set_ms(clock.now_ms() + 365 * 24 * 3600 * 1000)
    assert (await whoami(timed, reg["access_token"])).status_code == 200
    assert (await whoami(timed, login.json()["access_token"])).status_code == 200


async def test_register_with_refresh_token_expires_into_soft_logout(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    reg = await register(timed, "alice", refresh_token=True)
    assert reg["expires_in_ms"] == LIFETIME
    assert reg["refresh_token"].startswith("cdr_rt_")
    assert (await whoami(timed, reg["access_token"])).status_code == 200  # cached now
    clock.set_ms(clock.now_ms() + LIFETIME - 1)
    assert (await whoami(timed, reg["access_token"])).status_code == 200
    clock.set_ms(clock.now_ms() + 1)
    assert soft_logout(await whoami(timed, reg["access_token"]))
    # The refresh token still works after expiry, and the new token is the same device.
    r = await refresh(timed, reg["refresh_token"])
    assert r.status_code == 200, r.text
    me = await whoami(timed, r.json()["access_token"])
    assert me.json() == {
        "user_id": reg["user_id"],
        "device_id": reg["device_id"],
        "is_guest": False,
    }


async def test_login_with_refresh_token_and_rotation(
    timed: httpx.AsyncClient, clock: FakeClock
) -> None:
    await register(timed, "alice")
    r = await timed.post(
        f"{V3}/login",
        json={"type": "m.login.password", "user": "alice", "password": "pw", "refresh_token": True},
    )
    first = r.json()
    assert first["expires_in_ms"] == LIFETIME
    assert (await whoami(timed, first["access_token"])).status_code == 200

    r = await refresh(timed, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["expires_in_ms"] == LIFETIME
    assert second["refresh_token"] != first["refresh_token"]
    # The old access token ends at once (cached before, refused now).
    assert not soft_logout(await whoami(timed, first["access_token"]))

    # Until the new pair is used the old refresh token may be retried (a lost answer);
    # the retry replaces the pair it issued before.
    r = await refresh(timed, first["refresh_token"])
    assert r.status_code == 200, r.text
    third = r.json()
    assert (await whoami(timed, second["access_token"])).status_code == 401
    assert (await refresh(timed, second["refresh_token"])).status_code == 401

    # Using the new access token retires the old refresh token.
    assert (await whoami(timed, third["access_token"])).status_code == 200
    r = await refresh(timed, first["refresh_token"])
    assert not soft_logout(r)
    # The new refresh token goes on working, a new lifetime each time.
    clock.set_ms(clock.now_ms() + LIFETIME)
    assert soft_logout(await whoami(timed, third["access_token"]))
    r = await refresh(timed, third["refresh_token"])
    assert r.status_code == 200
    assert (await whoami(timed, r.json()["access_token"])).status_code == 200


async def test_using_the_new_refresh_token_retires_the_old_one(timed: httpx.AsyncClient) -> None:
    reg = await register(timed, "alice", refresh_token=True)
    second = (await refresh(timed, reg["refresh_token"])).json()
    third = await refresh(timed, second["refresh_token"])
    assert third.status_code == 200
    assert (await refresh(timed, reg["refresh_token"])).status_code == 401
    assert (await whoami(timed, third.json()["access_token"])).status_code == 200


async def test_logout_ends_the_refresh_token(timed: httpx.AsyncClient) -> None:
    reg = await register(timed, "alice", refresh_token=True)
    r = await timed.post(f"{V3}/logout", headers={"Authorization": f"Bearer {reg['access_token']}"})
    assert r.status_code == 200
    assert not soft_logout(await refresh(timed, reg["refresh_token"]))


async def test_logout_all_ends_every_refresh_token(timed: httpx.AsyncClient) -> None:
    reg = await register(timed, "alice", refresh_token=True)
    other = await timed.post(
        f"{V3}/login",
        json={"type": "m.login.password", "user": "alice", "password": "pw", "refresh_token": True},
    )
    r = await timed.post(
        f"{V3}/logout/all", headers={"Authorization": f"Bearer {reg['access_token']}"}
    )
    assert r.status_code == 200
    assert (await refresh(timed, reg["refresh_token"])).status_code == 401
    assert (await refresh(timed, other.json()["refresh_token"])).status_code == 401


async def test_invalid_refresh_bodies_change_nothing(timed: httpx.AsyncClient) -> None:
    reg = await register(timed, "alice", refresh_token=True)
    assert not soft_logout(await refresh(timed, "cdr_rt_nonsense"))
    assert not soft_logout(await refresh(timed, reg["access_token"]))  # not a refresh token
    r = await timed.post(f"{V3}/refresh", json={})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_MISSING_PARAM")
    for body in ({"refresh_token": 5}, {"refresh_token": None}, {"refresh_token": ["x"]}):
        r = await timed.post(f"{V3}/refresh", json=body)
        assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON"), body
    r = await timed.post(
        f"{V3}/login",
        json={"type": "m.login.password", "user": "alice", "password": "pw", "refresh_token": 1},
    )
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    # The pair still works.
    assert (await whoami(timed, reg["access_token"])).status_code == 200
    assert (await refresh(timed, reg["refresh_token"])).status_code == 200


@pytest.mark.engines("postgresql")  # several processes on one SQLite: unsupported
async def test_expiry_and_rotation_hold_on_every_worker(
    settings: Settings, clock: FakeClock
) -> None:
    async with AsyncExitStack() as stack:
        apps = (create_app(settings, clock), create_app(settings, clock))
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        one = await stack.enter_async_context(client(apps[0]))
        two = await stack.enter_async_context(client(apps[1]))
        reg = await register(one, "alice", refresh_token=True)
        # Cached on both workers, then refreshed on the first: the second refuses it too.
        for http in (one, two):
            assert (await whoami(http, reg["access_token"])).status_code == 200
        fresh = (await refresh(one, reg["refresh_token"])).json()
        for _ in range(100):
            if (await whoami(two, reg["access_token"])).status_code == 401:
                break
            await asyncio.sleep(0.05)
        assert not soft_logout(await whoami(two, reg["access_token"]))
        # Expiry needs no message: each worker's cache compares with the clock.
        for http in (one, two):
            assert (await whoami(http, fresh["access_token"])).status_code == 200
        clock.set_ms(clock.now_ms() + LIFETIME)
        for http in (one, two):
            assert soft_logout(await whoami(http, fresh["access_token"]))
