"""Event repository queries that /sync runs on every request, on both engines."""

from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.matrix.events import repository as repo
from candor.matrix.events.model import StoredEvent
from candor.store.db import Database

ROOM = "!room:test.local"


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


def message(pos: int, sender: str) -> StoredEvent:
    return StoredEvent(
        stream_pos=pos,
        event_id=f"$e{pos}",
        room_id=ROOM,
        type="m.room.message",
        state_key=None,
        sender=sender,
        origin_server_ts=pos,
        content={"body": str(pos)},
    )


async def test_events_in_rooms_are_the_window_in_order(db: Database) -> None:
    async with db.write() as conn:
        await repo.add_room(conn, ROOM, "@bob:test.local", "10", 0)
        prev = None
        for pos in range(1, 11):
            await repo.add_event(conn, message(pos, "@bob:test.local"), pos, prev)
            prev = f"$e{pos}"

    async with db.read() as conn:
        window = await repo.list_events_in_rooms(conn, [ROOM, "!other:x"], after=3, upto=8, limit=4)
        none = await repo.list_events_in_rooms(conn, [], after=0, upto=10, limit=4)

    assert [e.stream_pos for e in window] == [4, 5, 6, 7]
    assert none == []
