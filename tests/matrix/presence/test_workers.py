"""Two workers on one PostgreSQL database: a presence change made on one wakes the
long-polls of the person's room-mates on the other (through the persister's NOTIFY)."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks


@pytest.fixture
async def other_worker(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)  # the same time as the first worker's
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client


@pytest.mark.engines("postgresql")
async def test_a_change_on_one_worker_wakes_a_long_poll_on_another(
    alice: MatrixTestClient, bob: MatrixTestClient, other_worker: httpx.AsyncClient
) -> None:
    room = await alice.create_room()
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    bob_there = MatrixTestClient(other_worker, bob.user_id, bob.token, bob.device_id)
    first = await bob_there.sync(set_presence="offline")
    started = time.monotonic()
    poll = asyncio.create_task(
        bob_there.sync(first["next_batch"], timeout=20_000, set_presence="offline")
    )
    await asyncio.sleep(0.5)
    assert not poll.done()
    await alice.ok("PUT", f"/presence/{alice.user_id}/status", json={"presence": "online"})
    woken = await asyncio.wait_for(poll, 10)
    assert time.monotonic() - started < 10
    events = woken["presence"]["events"]
    assert [(e["sender"], e["content"]["presence"]) for e in events] == [(alice.user_id, "online")]
