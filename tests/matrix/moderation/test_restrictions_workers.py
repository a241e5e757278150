"""A lock or suspension set on one worker holds on another (PostgreSQL, two apps): the
change drops the user's cached tokens everywhere through the cluster channel."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from candor.app import create_app
from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient

pytestmark = pytest.mark.engines("postgresql")  # several processes on one SQLite: unsupported


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    async with AsyncExitStack() as stack:
        apps = (create_app(settings), create_app(settings))
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield apps


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test.local")


async def errcode_soon(who: MatrixTestClient, method: str, path: str, want: str | None) -> None:
    """The other worker hears of the change at commit; give its listener a moment."""
    for _ in range(100):
        r = await who.request(method, path, json={})
        got = r.json().get("errcode") if r.status_code != 200 else None
        if got == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{method} {path}: still {r.status_code} {r.text}")


async def test_lock_and_suspend_hold_on_every_worker(workers: tuple[FastAPI, FastAPI]) -> None:
    one, two = workers
    await one.state.services.accounts.create_user("root", "correct horse", admin=True)
    async with client(one) as h1, client(two) as h2:
        r = await h1.post(
            "/_matrix/client/v3/login",
            json={"type": "m.login.password", "user": "root", "password": "correct horse"},
        )
        root = MatrixTestClient(h1, r.json()["user_id"], r.json()["access_token"], "ADM")
        bob_here = await MatrixTestClient.register(h1, "bob")
        bob = MatrixTestClient(h2, bob_here.user_id, bob_here.token, bob_here.device_id)
        # Bob's token is now cached on worker two.
        assert (await bob.request("GET", "/account/whoami")).status_code == 200

        lock = f"/_matrix/client/v1/admin/lock/{bob.user_id}"
        r = await h1.put(lock, json={"locked": True}, headers=root.headers)
        assert r.status_code == 200, r.text
        await errcode_soon(bob, "GET", "/account/whoami", "M_USER_LOCKED")
        await h1.put(lock, json={"locked": False}, headers=root.headers)
        await errcode_soon(bob, "GET", "/account/whoami", None)

        suspend = f"/_matrix/client/v1/admin/suspend/{bob.user_id}"
        await h1.put(suspend, json={"suspended": True}, headers=root.headers)
        await errcode_soon(bob, "POST", "/createRoom", "M_USER_SUSPENDED")
        await h1.put(suspend, json={"suspended": False}, headers=root.headers)
        await errcode_soon(bob, "POST", "/createRoom", None)
