"""Reading a room's events for a caller another domain has already authorised.

The partner inbox reads a room only after the consent rules allowed it and the read was
recorded in the transparency log; it must not reach into this domain's repository, so it
comes through here. Nothing here checks who may read: the caller did.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.rooms import facts as rooms_facts
from candor.store.db import Database


@dataclass(frozen=True, slots=True)
class RoomWindow:
    events: list[StoredEvent]  # oldest first
    members: list[str]  # joined when read
    more: bool  # more events follow the last one


async def read_room_window(
    conn: AsyncConnection, room_id: str, *, after: int, limit: int
) -> RoomWindow:
    """`EventsService.room_window` on the caller's connection: the partner inbox reads the
    events in the same transaction as the grant that lets it (one snapshot)."""
    members = await rooms_facts.room_members(conn, room_id)
    upto = await events_repo.get_stream_position(conn)
    events = await events_repo.list_room_events(
        conn, room_id, after=after, upto=upto, descending=False, limit=limit + 1
    )
    return RoomWindow(events[:limit], sorted(members), len(events) > limit)


class EventsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def room_window(self, room_id: str, *, after: int, limit: int) -> RoomWindow:
        """Up to `limit` events with stream position > `after`, oldest first, in one snapshot."""
        async with self._db.read() as conn:
            return await read_room_window(conn, room_id, after=after, limit=limit)
