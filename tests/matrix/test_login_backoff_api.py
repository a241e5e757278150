"""Failed-login back-off through the real app: Matrix `/login` and the web form (issue 13
item 11). Time is a FakeClock; client addresses are set on the ASGI transport.

The app here runs with the default test settings, `rate_limit.enabled = false` (what
`--no-rate-limit` sets): the back-off is a separate guard and stays on.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.accounts.service import AccountsService
from tests.helpers.spec import spec_event_hooks
from tests.helpers.web import WebTestClient

PASSWORD = "correct horse"
LOGIN = "/_matrix/client/v3/login"


@dataclass
class Env:
    app: FastAPI
    clock: FakeClock

    def client(self, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        )

    def browser(self, address: str) -> WebTestClient:
        return WebTestClient(httpx.ASGITransport(app=self.app, client=(address, 40000)))


def _settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "d",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": False},
        **extra,  # type: ignore[arg-type]  # pydantic-settings' init kwargs
    )


async def _env(settings: Settings) -> AsyncIterator[Env]:
    clock = FakeClock()
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        accounts: AccountsService = app.state.services.accounts
        for name in ("alice", "mallory"):
            await accounts.create_user(name, PASSWORD, admin=False)
        yield Env(app, clock)


@pytest.fixture
async def env(tmp_path: Path, database_url: str) -> AsyncIterator[Env]:
    async for e in _env(_settings(tmp_path, database_url)):
        yield e


async def _login(http: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    return await http.post(
        LOGIN, json={"type": "m.login.password", "user": user, "password": password}
    )


async def _fail(http: httpx.AsyncClient, user: str, times: int) -> None:
    for _ in range(times):
        assert (await _login(http, user, "wrong")).status_code == 403


async def test_five_failures_are_free_then_the_next_attempt_waits(env: Env) -> None:
    async with env.client("198.51.100.7") as http:
        await _fail(http, "alice", 5)

        limited = await _login(http, "alice", PASSWORD)  # even the right password waits

        assert limited.status_code == 429
        assert limited.json()["errcode"] == "M_LIMIT_EXCEEDED"
        assert limited.json()["retry_after_ms"] == 1000
        assert limited.headers["Retry-After"] == "1"

        env.clock.advance(1)
        assert (await _login(http, "wrong-or-right", "x")).status_code == 403
        env.clock.advance(2)
        assert (await _login(http, "alice", PASSWORD)).status_code == 200


async def test_each_further_failure_doubles_the_wait(env: Env) -> None:
    waits = []
    async with env.client("198.51.100.7") as http:
        await _fail(http, "alice", 5)
        for _ in range(4):
            r = await _login(http, "alice", "wrong")
            assert r.status_code == 429
            waits.append(r.json()["retry_after_ms"])
            env.clock.advance(r.json()["retry_after_ms"] / 1000)
            assert (await _login(http, "alice", "wrong")).status_code == 403

    assert waits == [1000, 2000, 4000, 8000]


async def test_an_attacker_cannot_lock_the_owner_out_for_long(env: Env) -> None:
    """Many addresses guessing one account: the account's wait stops at its cap (60 s),
    the owner gets in after it, and the success resets the account's count."""
    for i in range(20):
        async with env.client(f"203.0.113.{i}") as attacker:
            r = await _login(attacker, "alice", "guess")
            if r.status_code == 429:
                env.clock.advance(r.json()["retry_after_ms"] / 1000)
                r = await _login(attacker, "alice", "guess")
            assert r.status_code == 403

    async with env.client("192.0.2.1") as owner:
        waiting = await _login(owner, "alice", PASSWORD)
        assert waiting.status_code == 429
        assert waiting.json()["retry_after_ms"] <= 60_000
        env.clock.advance(waiting.json()["retry_after_ms"] / 1000)

        assert (await _login(owner, "alice", PASSWORD)).status_code == 200
        assert (await _login(owner, "alice", "typo")).status_code == 403
        assert (await _login(owner, "alice", PASSWORD)).status_code == 200  # no wait


async def test_the_address_counter_grows_past_the_account_cap_and_survives_a_success(
    env: Env,
) -> None:
    """One address trying many accounts: its wait keeps doubling past the account cap,
    and logging into an account of its own does not wipe it."""
    async with env.client("198.51.100.66") as attacker:
        last = 0
        for i in range(12):
            r = await _login(attacker, f"victim{i}", "guess")
            if r.status_code == 429:
                last = r.json()["retry_after_ms"]
                env.clock.advance(last / 1000)
                r = await _login(attacker, f"victim{i}", "guess")
            assert r.status_code == 403
        assert last > 60_000

        r = await _login(attacker, "mallory", PASSWORD)
        assert r.status_code == 429
        env.clock.advance(r.json()["retry_after_ms"] / 1000)
        assert (await _login(attacker, "mallory", PASSWORD)).status_code == 200

        r = await _login(attacker, "victim99", "guess")
        assert r.status_code == 403
        assert (await _login(attacker, "victim99", "guess")).json()["retry_after_ms"] > 60_000


async def test_unknown_accounts_are_slowed_down_like_real_ones(env: Env) -> None:
    async with env.client("198.51.100.7") as http:
        await _fail(http, "nobody", 5)

        r = await _login(http, "nobody", "wrong")

    assert r.status_code == 429
    assert r.json()["retry_after_ms"] == 1000


async def test_switched_off_it_never_refuses(tmp_path: Path, database_url: str) -> None:
    settings = _settings(tmp_path, database_url, login_backoff={"enabled": False})
    async for e in _env(settings):
        async with e.client("198.51.100.7") as http:
            await _fail(http, "alice", 8)
            assert (await _login(http, "alice", PASSWORD)).status_code == 200


async def test_the_web_form_shares_the_count_and_says_how_long_to_wait(env: Env) -> None:
    async with env.client("198.51.100.7") as http:
        await _fail(http, "alice", 4)
    browser = env.browser("198.51.100.7")
    try:
        assert (await browser.login("alice", "wrong")).status_code == 400

        limited = await browser.login("alice", PASSWORD)

        assert limited.status_code == 429
        assert "Too many login attempts. Wait 1 second, then try again." in limited.text
        assert limited.headers["Retry-After"] == "1"
        assert browser.session_cookie is None
        env.clock.advance(1)
        assert (await browser.login("alice", PASSWORD)).status_code == 303
    finally:
        await browser.aclose()


async def test_password_reauthentication_is_slowed_down_too(env: Env) -> None:
    async with env.client("192.0.2.1") as http:
        token = (await _login(http, "alice", PASSWORD)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        auth = {"type": "m.login.password", "user": "alice", "password": "wrong"}
        body = {"new_password": "new pw", "auth": auth}
        statuses = [
            (await http.post("/_matrix/client/v3/account/password", json=body, headers=headers))
            for _ in range(6)
        ]

    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert statuses[-1].json()["errcode"] == "M_LIMIT_EXCEEDED"
