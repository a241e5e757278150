"""SQL for the administrators' directory lists: users and rooms, never message content.

Both lists page by key (`user_id` / `room_id` greater than the last one seen), so a page
stays correct while users register or rooms are created between requests, and a deep
page costs as much as the first.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import decode_dict
from candor.matrix.constants import EventType, Membership
from candor.store.models.accounts import User
from candor.store.models.events import Event
from candor.store.models.rooms import CurrentState, Room, RoomMembership


@dataclass(frozen=True, slots=True)
class UserEntry:
    user_id: str
    displayname: str | None
    is_admin: bool
    deactivated: bool
    created_ts: int


@dataclass(frozen=True, slots=True)
class RoomEntry:
    room_id: str
    name: str | None
    joined_members: int
    encrypted: bool
    created_ts: int


async def list_users(conn: AsyncConnection, after: str | None, limit: int) -> list[UserEntry]:
    query = select(
        User.user_id, User.displayname, User.is_admin, User.deactivated, User.created_ts
    ).order_by(User.user_id)
    if after is not None:
        query = query.where(User.user_id > after)
    rows = await conn.execute(query.limit(limit))
    return [UserEntry(r[0], r[1], bool(r[2]), bool(r[3]), int(r[4])) for r in rows]


async def list_rooms(conn: AsyncConnection, after: str | None, limit: int) -> list[RoomEntry]:
    """Rooms with their name, joined-member count and whether they are encrypted.

    Reads only the room's current `m.room.name` state (the name every member and invitee
    sees) and whether `m.room.encryption` state exists: no message event is read.
    """
    query = select(Room.room_id, Room.created_ts).order_by(Room.room_id)
    if after is not None:
        query = query.where(Room.room_id > after)
    rooms = list(await conn.execute(query.limit(limit)))
    ids = [r[0] for r in rooms]
    if not ids:
        return []
    counts = await conn.execute(
        select(RoomMembership.room_id, func.count())
        .where(RoomMembership.room_id.in_(ids), RoomMembership.membership == Membership.JOIN)
        .group_by(RoomMembership.room_id)
    )
    joined = {room_id: int(count) for room_id, count in counts}
    state = await conn.execute(
        select(CurrentState.room_id, CurrentState.type, Event.content)
        .join(Event, Event.event_id == CurrentState.event_id)
        .where(
            CurrentState.room_id.in_(ids),
            CurrentState.state_key == "",
            CurrentState.type.in_([EventType.NAME, EventType.ENCRYPTION]),
        )
    )
    names: dict[str, str] = {}
    encrypted: set[str] = set()
    for room_id, event_type, content in state:
        if event_type == EventType.ENCRYPTION:
            encrypted.add(room_id)
            continue
        name = decode_dict(content).get("name")
        if isinstance(name, str) and name:
            names[room_id] = name
    return [
        RoomEntry(
            room_id,
            names.get(room_id),
            int(joined.get(room_id, 0)),
            room_id in encrypted,
            int(created_ts),
        )
        for room_id, created_ts in rooms
    ]


async def list_room_creators(conn: AsyncConnection, room_ids: list[str]) -> set[str]:
    """The creators of these rooms (a directory page names them with the members)."""
    if not room_ids:
        return set()
    rows = await conn.execute(select(Room.creator).where(Room.room_id.in_(room_ids)))
    return {r[0] for r in rows}
