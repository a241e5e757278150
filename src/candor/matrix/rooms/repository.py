"""SQL for room-level lookups: memberships, aliases, receipts (events live in events/)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from candor.core.canonical_json import decode_dict
from candor.matrix.constants import EventType, HistoryVisibility, JoinRule, Membership
from candor.store.db import upsert
from candor.store.models.events import Event, Receipt
from candor.store.models.rooms import Room, RoomAlias, RoomMembership


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    room_id: str
    membership: str
    stream_pos: int
    forgotten: bool


async def get_membership(
    conn: AsyncConnection, room_id: str, user_id: str
) -> MembershipRecord | None:
    row = (
        await conn.execute(
            select(
                RoomMembership.room_id,
                RoomMembership.membership,
                RoomMembership.stream_pos,
                RoomMembership.forgotten,
            ).where(RoomMembership.room_id == room_id, RoomMembership.user_id == user_id)
        )
    ).first()
    return None if row is None else MembershipRecord(row[0], row[1], int(row[2]), bool(row[3]))


_USER_MEMBERSHIPS = select(
    RoomMembership.room_id,
    RoomMembership.membership,
    RoomMembership.stream_pos,
    RoomMembership.forgotten,
).where(RoomMembership.user_id == bindparam("user_id"))


async def list_user_memberships(conn: AsyncConnection, user_id: str) -> list[MembershipRecord]:
    rows = await conn.execute(_USER_MEMBERSHIPS, {"user_id": user_id})
    return [MembershipRecord(r[0], r[1], int(r[2]), bool(r[3])) for r in rows]


async def list_joined_rooms(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(
        select(RoomMembership.room_id).where(
            RoomMembership.user_id == user_id, RoomMembership.membership == Membership.JOIN
        )
    )
    return [r[0] for r in rows]


async def list_room_members(
    conn: AsyncConnection, room_id: str, membership: str | None = Membership.JOIN
) -> list[str]:
    query = select(RoomMembership.user_id).where(RoomMembership.room_id == room_id)
    if membership is not None:
        query = query.where(RoomMembership.membership == membership)
    return [r[0] for r in await conn.execute(query.order_by(RoomMembership.user_id))]


async def count_members(conn: AsyncConnection, room_id: str) -> dict[str, int]:
    rows = await conn.execute(
        select(RoomMembership.membership, func.count())
        .where(RoomMembership.room_id == room_id)
        .group_by(RoomMembership.membership)
    )
    return {r[0]: int(r[1]) for r in rows}


_COUNTS_OF_ROOMS = (
    select(RoomMembership.room_id, RoomMembership.membership, func.count())
    .where(RoomMembership.room_id.in_(bindparam("room_ids", expanding=True)))
    .group_by(RoomMembership.room_id, RoomMembership.membership)
)


async def count_members_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """`count_members` of many rooms in one query."""
    out: dict[str, dict[str, int]] = {room_id: {} for room_id in room_ids}
    if room_ids:
        for room_id, membership, n in await conn.execute(
            _COUNTS_OF_ROOMS, {"room_ids": list(room_ids)}
        ):
            out[room_id][membership] = int(n)
    return out


_Other = aliased(RoomMembership)
# The `n`-th member (any membership, `user_id` left out) of a room by user id, if any.
_NTH_MEMBER = (
    select(_Other.user_id)
    .where(_Other.room_id == Room.room_id, _Other.user_id != bindparam("user_id"))
    .order_by(_Other.user_id)
    .limit(1)
    .offset(bindparam("skip", type_=Integer))
    .correlate(Room)
    .scalar_subquery()
)
# MATERIALIZED: each room's bound is computed once (see events/repository.py).
_LAST_MEMBER = (
    select(func.max(_Other.user_id))
    .where(_Other.room_id == Room.room_id)
    .correlate(Room)
    .scalar_subquery()
)
# A room with fewer members ends at its last one, so `user_id <= last` is always a range.
_FIRST_BOUNDS = (
    select(Room.room_id.label("room_id"), func.coalesce(_NTH_MEMBER, _LAST_MEMBER).label("last"))
    .where(Room.room_id.in_(bindparam("room_ids", expanding=True)))
    .cte("first_bounds")
    .prefix_with("MATERIALIZED")
)
_FIRST_MEMBERS = (
    select(RoomMembership.room_id, RoomMembership.user_id)
    .join(_FIRST_BOUNDS, RoomMembership.room_id == _FIRST_BOUNDS.c.room_id)
    .where(
        RoomMembership.user_id != bindparam("user_id"),
        RoomMembership.user_id <= _FIRST_BOUNDS.c.last,
    )
    .order_by(RoomMembership.room_id, RoomMembership.user_id)
)


async def list_first_members_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str, count: int
) -> dict[str, list[str]]:
    """The first `count` members of each room by user id (any membership, `user_id` left
    out): one index range per room, however many members it has."""
    out: dict[str, list[str]] = {room_id: [] for room_id in room_ids}
    if not room_ids or count < 1:
        return out
    rows = await conn.execute(
        _FIRST_MEMBERS, {"room_ids": list(room_ids), "user_id": user_id, "skip": count - 1}
    )
    for room_id, member in rows:
        out[room_id].append(member)
    return out


async def set_forgotten(conn: AsyncConnection, room_id: str, user_id: str) -> None:
    await conn.execute(
        update(RoomMembership)
        .where(RoomMembership.room_id == room_id, RoomMembership.user_id == user_id)
        .values(forgotten=True)
    )


# --- aliases -----------------------------------------------------------------------------


class AliasExists(Exception):
    pass


async def get_alias(conn: AsyncConnection, alias: str) -> str | None:
    return await conn.scalar(select(RoomAlias.room_id).where(RoomAlias.alias == alias))


async def add_alias(conn: AsyncConnection, alias: str, room_id: str, creator: str) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(RoomAlias).values(alias=alias, room_id=room_id, creator=creator)
            )
    except IntegrityError as exc:
        raise AliasExists(alias) from exc


async def get_alias_creator(conn: AsyncConnection, alias: str) -> str | None:
    return await conn.scalar(select(RoomAlias.creator).where(RoomAlias.alias == alias))


async def delete_alias(conn: AsyncConnection, alias: str) -> None:
    await conn.execute(delete(RoomAlias).where(RoomAlias.alias == alias))


async def list_room_aliases(conn: AsyncConnection, room_id: str) -> list[str]:
    rows = await conn.execute(
        select(RoomAlias.alias).where(RoomAlias.room_id == room_id).order_by(RoomAlias.alias)
    )
    return [r[0] for r in rows]


# --- the published room directory ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomRules:
    published: bool
    join_rule: str | None
    history_visibility: str | None


async def get_room_rules(conn: AsyncConnection, room_id: str) -> RoomRules | None:
    """Whether the room is published, and its rules as copied from current state."""
    row = (
        await conn.execute(
            select(Room.published, Room.join_rule, Room.history_visibility).where(
                Room.room_id == room_id
            )
        )
    ).first()
    return None if row is None else RoomRules(bool(row[0]), row[1], row[2])


async def set_published(conn: AsyncConnection, room_id: str, published: bool) -> None:
    await conn.execute(update(Room).where(Room.room_id == room_id).values(published=published))


_JOINED = func.count(RoomMembership.user_id)
_LISTED_ROOMS = (
    select(Room.room_id, Room.join_rule, Room.history_visibility, _JOINED)
    .outerjoin(
        RoomMembership,
        and_(RoomMembership.room_id == Room.room_id, RoomMembership.membership == Membership.JOIN),
    )
    .where(
        Room.published.is_(True),
        # A published room that nobody may join or read is not shown (as in Synapse).
        or_(
            Room.join_rule.in_((JoinRule.PUBLIC, JoinRule.KNOCK)),
            Room.history_visibility == HistoryVisibility.WORLD_READABLE,
        ),
    )
    .group_by(Room.room_id, Room.join_rule, Room.history_visibility)
    .order_by(_JOINED.desc(), Room.room_id)
)


@dataclass(frozen=True, slots=True)
class ListedRoom:
    room_id: str
    join_rule: str | None
    history_visibility: str | None
    joined: int


async def list_listed_rooms(conn: AsyncConnection) -> list[ListedRoom]:
    """The rooms `/publicRooms` shows (published, and joinable or world-readable), the
    most joined first, then by room id: a stable order for paging."""
    rows = await conn.execute(_LISTED_ROOMS)
    return [ListedRoom(r[0], r[1], r[2], int(r[3])) for r in rows]


# --- receipts ----------------------------------------------------------------------------


async def set_receipt(
    conn: AsyncConnection,
    room_id: str,
    receipt_type: str,
    user_id: str,
    thread_id: str,
    event_id: str,
    ts: int,
    pos: int,
) -> None:
    await upsert(
        conn,
        Receipt,
        {
            "room_id": room_id,
            "receipt_type": receipt_type,
            "user_id": user_id,
            "thread_id": thread_id,
            "event_id": event_id,
            "ts": ts,
            "stream_pos": pos,
        },
        ("room_id", "receipt_type", "user_id", "thread_id"),
    )


_RECEIPTS = select(
    Receipt.room_id,
    Receipt.event_id,
    Receipt.receipt_type,
    Receipt.user_id,
    Receipt.thread_id,
    Receipt.ts,
).where(
    Receipt.room_id.in_(bindparam("room_ids", expanding=True)),
    Receipt.stream_pos > bindparam("after"),
    Receipt.stream_pos <= bindparam("upto"),
)


async def list_receipts(
    conn: AsyncConnection, room_ids: Sequence[str], *, after: int, upto: int
) -> list[tuple[str, str, str, str, str, int]]:
    """(room_id, event_id, receipt_type, user_id, thread_id, ts) changed in (after, upto]."""
    if not room_ids:
        return []
    rows = await conn.execute(_RECEIPTS, {"room_ids": list(room_ids), "after": after, "upto": upto})
    return [(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]


# --- room facts for other domains (partners/consent) -------------------------------------


async def list_joined_members(
    conn: AsyncConnection, room_ids: Sequence[str]
) -> dict[str, frozenset[str]]:
    """Joined members of each room (a room with none is absent)."""
    if not room_ids:
        return {}
    rows = await conn.execute(
        select(RoomMembership.room_id, RoomMembership.user_id).where(
            RoomMembership.room_id.in_(list(room_ids)),
            RoomMembership.membership == Membership.JOIN,
        )
    )
    out: dict[str, set[str]] = {}
    for room_id, user_id in rows:
        out.setdefault(room_id, set()).add(user_id)
    return {k: frozenset(v) for k, v in out.items()}


async def get_membership_positions(
    conn: AsyncConnection, room_ids: Sequence[str]
) -> dict[str, int]:
    """The stream position of each room's latest membership event (any user, any kind)."""
    if not room_ids:
        return {}
    rows = await conn.execute(
        select(RoomMembership.room_id, func.max(RoomMembership.stream_pos))
        .where(RoomMembership.room_id.in_(list(room_ids)))
        .group_by(RoomMembership.room_id)
    )
    return {r[0]: int(r[1]) for r in rows}


async def list_membership_events_since(
    conn: AsyncConnection, room_id: str, after: int
) -> list[tuple[str, str, str | None]]:
    """(user, membership, previous membership) of each member event after `after`, in order."""
    rows = await conn.execute(
        select(Event.state_key, Event.content, Event.prev_content)
        .where(
            Event.room_id == room_id,
            Event.type == EventType.MEMBER,
            Event.stream_pos > after,
        )
        .order_by(Event.stream_pos)
    )
    out: list[tuple[str, str, str | None]] = []
    for state_key, content, prev in rows:
        before = decode_dict(prev).get("membership") if prev is not None else None
        out.append(
            (
                str(state_key),
                str(decode_dict(content).get("membership")),
                None if before is None else str(before),
            )
        )
    return out


# --- membership reads for device-list tracking (keys/device_lists.py, through facts.py) --


async def list_users_sharing_rooms(conn: AsyncConnection, user_id: str) -> set[str]:
    """Users joined to a room the user is joined to (the user included)."""
    mine = select(RoomMembership.room_id).where(
        RoomMembership.user_id == user_id, RoomMembership.membership == Membership.JOIN
    )
    rows = await conn.execute(
        select(RoomMembership.user_id)
        .where(RoomMembership.room_id.in_(mine), RoomMembership.membership == Membership.JOIN)
        .distinct()
    )
    return {r[0] for r in rows}


async def list_membership_changes(
    conn: AsyncConnection, user_id: str, after: int, upto: int
) -> list[tuple[str, str, str]]:
    """(room id, user id, membership) of current memberships changed in (after, upto], in
    the rooms the user is or was in."""
    mine = select(RoomMembership.room_id).where(RoomMembership.user_id == user_id)
    rows = await conn.execute(
        select(RoomMembership.room_id, RoomMembership.user_id, RoomMembership.membership).where(
            RoomMembership.room_id.in_(mine),
            RoomMembership.stream_pos > after,
            RoomMembership.stream_pos <= upto,
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def move_aliases(conn: AsyncConnection, old_room_id: str, new_room_id: str) -> None:
    """Point every local alias of a room at its replacement (a room upgrade)."""
    await conn.execute(
        update(RoomAlias).where(RoomAlias.room_id == old_room_id).values(room_id=new_room_id)
    )


async def list_mutual_rooms(
    conn: AsyncConnection, user_id: str, other: str, after: str | None, limit: int
) -> tuple[list[str], int]:
    """Rooms both users are joined to, by room id after `after`: a page and the total."""
    mine = select(RoomMembership.room_id).where(
        RoomMembership.user_id == user_id, RoomMembership.membership == Membership.JOIN
    )
    shared = and_(
        RoomMembership.user_id == other,
        RoomMembership.membership == Membership.JOIN,
        RoomMembership.room_id.in_(mine),
    )
    total = int(await conn.scalar(select(func.count()).where(shared)) or 0)
    query = select(RoomMembership.room_id).where(shared)
    if after is not None:
        query = query.where(RoomMembership.room_id > after)
    rows = await conn.execute(query.order_by(RoomMembership.room_id).limit(limit))
    return [r[0] for r in rows], total
