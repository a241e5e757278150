"""Rate limiting through the HTTP API: 429 M_LIMIT_EXCEEDED after the burst, per user."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

BURST = 3


@pytest.fixture
def clock() -> FakeClock:
    """Frozen time: no token refills between requests, so the limits are exact."""
    return FakeClock()


@pytest.fixture
async def limited_http(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "d",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": True, "per_second": 1, "burst": BURST},
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client


async def _send(user: MatrixTestClient, room: str, body: str, txn: str) -> httpx.Response:
    return await user.request(
        "PUT",
        f"/rooms/{room}/send/m.room.message/{txn}",
        json={"msgtype": "m.text", "body": body},
    )


async def _bodies(user: MatrixTestClient, room: str) -> list[str]:
    chunk = (await user.messages(room, dir="b", limit=50))["chunk"]
    return [e["content"]["body"] for e in chunk if e["type"] == "m.room.message"]


async def test_sending_past_the_burst_is_rejected_with_a_retry_hint(
    limited_http: httpx.AsyncClient,
) -> None:
    alice = await MatrixTestClient.register(limited_http, "alice")
    room = await alice.create_room(preset="public_chat")  # takes one token
    accepted = [await _send(alice, room, f"m{i}", f"t{i}") for i in range(BURST - 1)]

    rejected = await _send(alice, room, "one too many", "t-over")

    assert [r.status_code for r in accepted] == [200] * (BURST - 1)
    assert rejected.status_code == 429
    body = rejected.json()
    assert body["errcode"] == "M_LIMIT_EXCEEDED"
    assert isinstance(body["retry_after_ms"], int)
    assert body["retry_after_ms"] > 0
    assert int(rejected.headers["Retry-After"]) >= 1


async def test_a_rejected_send_creates_no_event(limited_http: httpx.AsyncClient) -> None:
    alice = await MatrixTestClient.register(limited_http, "alice")
    room = await alice.create_room(preset="public_chat")
    for i in range(BURST - 1):
        await alice.send(room, f"m{i}", txn=f"t{i}")

    rejected = await _send(alice, room, "one too many", "t-over")

    assert rejected.status_code == 429
    assert await _bodies(alice, room) == ["m1", "m0"]


async def test_waiting_out_the_retry_hint_lets_the_user_send_again(
    limited_http: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await MatrixTestClient.register(limited_http, "alice")
    room = await alice.create_room(preset="public_chat")
    for i in range(BURST - 1):
        await alice.send(room, f"m{i}", txn=f"t{i}")
    rejected = await _send(alice, room, "late", "t-late")
    assert rejected.status_code == 429

    clock.advance(rejected.json()["retry_after_ms"] / 1000)
    retried = await _send(alice, room, "late", "t-late")

    assert retried.status_code == 200, retried.text
    assert (await _bodies(alice, room))[0] == "late"


async def test_one_user_being_limited_does_not_limit_another(
    limited_http: httpx.AsyncClient,
) -> None:
    alice = await MatrixTestClient.register(limited_http, "alice")
    bob = await MatrixTestClient.register(limited_http, "bob")
    room = await alice.create_room(preset="public_chat")
    for i in range(BURST - 1):
        await alice.send(room, f"a{i}", txn=f"a{i}")
    assert (await _send(alice, room, "too many", "a-over")).status_code == 429

    await bob.join(room)  # takes one of bob's tokens
    bob_sends = [await _send(bob, room, f"b{i}", f"b{i}") for i in range(BURST - 1)]

    assert [r.status_code for r in bob_sends] == [200] * (BURST - 1)
    assert await _bodies(bob, room) == ["b1", "b0", "a1", "a0"]


def test_rate_limiting_is_on_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CANDOR_RATE_LIMIT__ENABLED", raising=False)
    monkeypatch.chdir(tmp_path)  # no candor.toml

    assert Settings().rate_limit.enabled is True
