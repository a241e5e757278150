"""`WindowCache`: a window of the stream is read once from the caller's snapshot, keyed by
both ends, and says whether anything but events was written in it."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.matrix.events import repository as events_repo
from candor.matrix.sync.window import MAX_WINDOW, InFlight, WindowCache
from candor.store.db import Database
from tests.helpers.matrix import MatrixTestClient


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A second engine on the app's database, as another worker would have."""
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


async def _position(db: Database) -> int:
    async with db.read() as conn:
        return await events_repo.get_stream_position(conn)


async def test_a_window_is_read_once_and_holds_only_its_events(
    db: Database, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    first = await alice.send(room, "one")
    second = await alice.send(room, "two")
    upto = await _position(db)
    cache = WindowCache()
    async with db.read() as conn:
        window = await cache.get(conn, upto - 2, upto)
        again = await cache.get(conn, upto - 2, upto)
    assert window is not None
    assert again is window
    assert (cache.misses, cache.hits) == (1, 1)
    assert [e.event_id for e in window.events] == [first, second]
    assert window.only_events
    assert not window.has_members


async def test_a_receipt_in_the_window_is_not_only_events(
    db: Database, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    event_id = await alice.send(room, "read me")
    before = await _position(db)
    await alice.ok("POST", f"/rooms/{room}/receipt/m.read/{event_id}", json={})
    upto = await _position(db)
    async with db.read() as conn:
        window = await WindowCache().get(conn, before, upto)
    assert window is not None
    assert window.events == ()
    assert not window.only_events


async def test_a_snapshot_reads_its_own_window_whatever_is_committed_after(
    db: Database, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    await alice.send(room, "seen")
    cache = WindowCache()
    async with db.read() as conn:
        upto = await events_repo.get_stream_position(conn)
        await alice.send(room, "later")  # committed by the app, after this snapshot began
        window = await cache.get(conn, upto - 1, upto)
    assert window is not None
    assert [e.content["body"] for e in window.events] == ["seen"]
    newer = await _position(db)
    assert newer > upto
    async with db.read() as conn:
        later = await cache.get(conn, upto - 1, newer)
    assert later is not None
    assert [e.content.get("body") for e in later.events] == ["seen", "later"]


async def test_a_long_or_inverted_window_is_not_shared(db: Database) -> None:
    async with db.read() as conn:
        assert await WindowCache().get(conn, 0, MAX_WINDOW + 1) is None
        assert await WindowCache().get(conn, 5, 4) is None
        empty = await WindowCache().get(conn, 7, 7)
    assert empty is not None
    assert empty.only_events
    assert empty.events == ()


async def test_concurrent_reads_of_one_key_run_once() -> None:
    flights: InFlight[str, int] = InFlight()
    started = asyncio.Event()
    release = asyncio.Event()
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        started.set()
        await release.wait()
        return 42

    first = asyncio.create_task(flights.run("w", read))
    await started.wait()
    others = [asyncio.create_task(flights.run("w", read)) for _ in range(5)]
    joined = asyncio.create_task(flights.join("w"))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, *others, joined) == [42] * 7
    assert reads == 1
    assert await flights.join("w") is None  # nothing under way any more


async def test_a_failed_read_lets_each_waiter_read_for_itself() -> None:
    flights: InFlight[str, int] = InFlight()
    started = asyncio.Event()
    fail = asyncio.Event()

    async def failing() -> int:
        started.set()
        await fail.wait()
        raise RuntimeError("connection lost")

    async def working() -> int:
        return 7

    first = asyncio.create_task(flights.run("w", failing))
    await started.wait()
    waiter = asyncio.create_task(flights.run("w", working))
    await asyncio.sleep(0)
    fail.set()
    with pytest.raises(RuntimeError):
        await first
    assert await waiter == 7
