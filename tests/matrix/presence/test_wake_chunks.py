"""A person in hundreds of rooms changes presence: the other workers are told which rooms
in several NOTIFY messages, instead of one too long that would wake every waiter."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events.persister import WriteContext
from candor.matrix.sync.cluster import ClusterNotifier, WakeBroadcaster, wake_bodies
from candor.store.broadcast import MAX_PAYLOAD
from candor.store.db import Database

ROOMS = [f"!room{i:04d}abcdefghijklmnop:test.local" for i in range(600)]


def test_a_wake_up_that_fits_is_one_message() -> None:
    assert wake_bodies(["!a:x"], ["@b:x"], 7, 100) == ['[["!a:x"],["@b:x"],7]']


def test_a_long_wake_up_is_split_and_nothing_is_lost() -> None:
    users = [f"@user{i}:test.local" for i in range(50)]
    bodies = wake_bodies(ROOMS, users, 42, 1000)
    assert len(bodies) > 1
    assert all(len(b.encode()) <= 1000 for b in bodies)
    parsed = [json.loads(b) for b in bodies]
    assert [r for p in parsed for r in p[0]] == ROOMS
    assert [u for p in parsed for u in p[1]] == users
    assert {p[2] for p in parsed} == {42}


@dataclass
class _Ctx:
    """What `WakeBroadcaster.before_commit` reads of a persister batch."""

    conn: AsyncConnection
    position: int
    rooms: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield database
    await database.dispose()


async def test_other_workers_wake_only_the_rooms_of_a_long_wake_up(db: Database) -> None:
    here, there = ClusterNotifier(db), ClusterNotifier(db)
    await here.start()
    await there.start()
    try:
        assert len(_wake_body_size(ROOMS)) > MAX_PAYLOAD
        with (
            there.listen("@mate:test.local", [ROOMS[-1]]) as mate,
            there.listen("@stranger:test.local", ["!elsewhere:test.local"]) as stranger,
        ):
            async with db.write() as conn:
                ctx = _Ctx(conn, 5, set(ROOMS), {"@changed:test.local"})
                await WakeBroadcaster(here.broadcast).before_commit(cast(WriteContext, ctx))
            await asyncio.wait_for(mate.event.wait(), 5)
            await asyncio.sleep(0.2)  # every message of the commit has arrived by now
            assert not stranger.event.is_set()
    finally:
        await here.stop()
        await there.stop()


def _wake_body_size(rooms: list[str]) -> bytes:
    return json.dumps([rooms, [], 5]).encode()
