"""Two persisters on one PostgreSQL database, as two workers run them: after the other
worker's batch, a persister forgets only the cached state of the rooms that batch wrote to
(issue 17), and every room's chain of events stays one line whoever appends next."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from candor.app import create_app
from candor.config import Settings
from candor.matrix.context import Homeserver
from candor.store.models.events import Event
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


def cached_rooms(app: FastAPI) -> set[str]:
    hs: Homeserver = app.state.homeserver
    return set(hs.persister._rooms)


async def prev_event(app: FastAPI, event_id: str) -> tuple[str | None, int]:
    """The event's stored predecessor and depth (clients are not shown them)."""
    hs: Homeserver = app.state.homeserver
    async with hs.db.read() as conn:
        row = (
            await conn.execute(
                select(Event.prev_event_id, Event.depth).where(Event.event_id == event_id)
            )
        ).one()
    return row[0], int(row[1])


async def test_a_foreign_batch_drops_only_the_rooms_it_wrote_to(
    workers: tuple[FastAPI, FastAPI],
) -> None:
    one, two = workers
    async with client(one) as h1, client(two) as h2:
        alice = await MatrixTestClient.register(h1, "alice")
        bob = await MatrixTestClient.register(h2, "bob")
        shared = await alice.create_room(preset="public_chat")
        quiet = await alice.create_room(preset="public_chat")
        await alice.send(shared, "hello")
        await alice.send(quiet, "hello")
        assert {shared, quiet} <= cached_rooms(one)

        # Bob's worker appends to the shared room only.
        await bob.join(shared)
        from_bob = await bob.send(shared, "from the other worker")

        # Alice's next batch, on her worker: the shared room is re-read (its head is Bob's
        # event), the quiet one stays cached.
        in_quiet = await alice.send(quiet, "still cached")
        assert quiet in cached_rooms(one)
        assert shared not in cached_rooms(one)
        in_shared = await alice.send(shared, "after Bob")
        bob_prev, bob_depth = await prev_event(one, from_bob)
        assert bob_prev is not None  # his join
        assert await prev_event(one, in_shared) == (from_bob, bob_depth + 1)
        quiet_prev, _ = await prev_event(one, in_quiet)
        assert quiet_prev is not None

        # Both see one timeline in one order.
        a = await alice.messages(shared, dir="b", limit=10)
        b = await bob.messages(shared, dir="b", limit=10)
        assert [e["event_id"] for e in a["chunk"]] == [e["event_id"] for e in b["chunk"]]
        assert a["chunk"][0]["content"]["body"] == "after Bob"
