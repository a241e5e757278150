"""SQL for events, current state, memberships, transaction ids and the stream counter.

Functions take the connection of the caller's transaction; none of them commits.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from candor.core.canonical_json import JsonDict, decode_dict, encode_canonical
from candor.matrix.constants import EventType
from candor.matrix.events.model import StoredEvent
from candor.store.db import NowReads, upsert
from candor.store.models.events import Event, StreamPosition
from candor.store.models.rooms import CurrentState, Room, RoomMembership

_EVENT_COLUMNS = (
    Event.stream_pos,
    Event.event_id,
    Event.room_id,
    Event.type,
    Event.state_key,
    Event.sender,
    Event.origin_server_ts,
    Event.content,
    Event.redacts,
    Event.redacted_by,
    Event.prev_content,
    Event.replaces_state,
    Event.prev_sender,
    Event.txn_device,
    Event.txn_scope,
    Event.txn_id,
)


def _to_event(row: Any) -> StoredEvent:  # Any: SQLAlchemy's variadic Row type
    """A row of `_EVENT_COLUMNS`, read by position: `row._mapping` builds a mapping per
    row, a measurable cost when an initial /sync reads thousands of events."""
    (
        stream_pos,
        event_id,
        room_id,
        event_type,
        state_key,
        sender,
        ts,
        content,
        redacts,
        redacted_by,
        prev,
        replaces_state,
        prev_sender,
        txn_device,
        txn_scope,
        txn_id,
    ) = row
    return StoredEvent(
        stream_pos=int(stream_pos),
        event_id=event_id,
        room_id=room_id,
        type=event_type,
        state_key=state_key,
        sender=sender,
        origin_server_ts=int(ts),
        content=decode_dict(content),
        redacts=redacts,
        redacted_by=redacted_by,
        prev_content=decode_dict(prev) if prev is not None else None,
        replaces_state=replaces_state,
        prev_sender=prev_sender,
        txn_device=txn_device,
        txn_scope=txn_scope,
        txn_id=txn_id,
    )


# --- the stream counter ------------------------------------------------------------------


# Hot-path statements are built once: SQLAlchemy then reuses their memoized cache keys and
# compiled forms instead of rebuilding the expression tree on every send.
_GET_POSITION = select(StreamPosition.position).where(StreamPosition.name == "events")
_SET_POSITION = (
    update(StreamPosition)
    .where(StreamPosition.name == "events")
    .values(position=bindparam("position"))
)
_GET_TXN = select(Event.event_id).where(
    Event.sender == bindparam("sender"),
    Event.txn_device == bindparam("device"),
    Event.txn_scope == bindparam("scope"),
    Event.txn_id == bindparam("txn_id"),
)
_INSERT_EVENT = insert(Event)
_MAX_RULE_LENGTH = 32  # the width of rooms.join_rule and rooms.history_visibility


async def get_stream_position(conn: AsyncConnection) -> int:
    pos = await conn.scalar(_GET_POSITION)
    return int(pos or 0)


_ROOMS_WRITTEN_BETWEEN = (
    select(Event.room_id)
    .where(Event.stream_pos > bindparam("after"), Event.stream_pos <= bindparam("upto"))
    .distinct()
)


async def rooms_written_between(conn: AsyncConnection, after: int, upto: int) -> set[str]:
    """The rooms that got an event in (after, upto]: a primary-key range. What another
    worker's batches changed, so the persister forgets only those rooms' cached state."""
    rows = await conn.execute(_ROOMS_WRITTEN_BETWEEN, {"after": after, "upto": upto})
    return {r[0] for r in rows}


async def get_stream_position_now(now: NowReads) -> int:
    """The committed position, read on its own rather than in the caller's snapshot: what
    /sync asks to learn whether a re-poll is already caught up (`Database.now`)."""
    pos = await now.scalar(_GET_POSITION)
    return pos if isinstance(pos, int) else 0


async def set_stream_position(conn: AsyncConnection, position: int) -> None:
    await conn.execute(_SET_POSITION, {"position": position})


# --- rooms -------------------------------------------------------------------------------


async def add_room(
    conn: AsyncConnection, room_id: str, creator: str, version: str, ts: int
) -> None:
    await conn.execute(
        insert(Room).values(room_id=room_id, creator=creator, room_version=version, created_ts=ts)
    )


async def get_room_head(conn: AsyncConnection, room_id: str) -> tuple[str | None, int] | None:
    """The room's latest event and its depth; (None, 0) for a room with no events yet."""
    row = (
        await conn.execute(
            select(Event.event_id, Event.depth)
            .where(Event.room_id == room_id)
            .order_by(Event.stream_pos.desc())
            .limit(1)
        )
    ).first()
    if row is not None:
        return row[0], int(row[1])
    exists = await conn.scalar(select(Room.room_id).where(Room.room_id == room_id))
    return None if exists is None else (None, 0)


async def set_room_rule(conn: AsyncConnection, room_id: str, rule: str, content: JsonDict) -> None:
    """Copy `rule` (join_rule, history_visibility) from the room's new state event onto its
    row, where it is a column of that name (None when malformed)."""
    value = content.get(rule)
    stored = value if isinstance(value, str) and len(value) <= _MAX_RULE_LENGTH else None
    await conn.execute(update(Room).where(Room.room_id == room_id).values({rule: stored}))


# --- events ------------------------------------------------------------------------------


async def add_event(conn: AsyncConnection, ev: StoredEvent, depth: int, prev: str | None) -> None:
    await conn.execute(
        _INSERT_EVENT,
        {
            "stream_pos": ev.stream_pos,
            "event_id": ev.event_id,
            "room_id": ev.room_id,
            "type": ev.type,
            "state_key": ev.state_key,
            "sender": ev.sender,
            "origin_server_ts": ev.origin_server_ts,
            "depth": depth,
            "prev_event_id": prev,
            "content": encode_canonical(ev.content).decode(),
            "redacts": ev.redacts,
            "prev_content": (
                encode_canonical(ev.prev_content).decode() if ev.prev_content is not None else None
            ),
            "replaces_state": ev.replaces_state,
            "prev_sender": ev.prev_sender,
            "txn_device": ev.txn_device,
            "txn_scope": ev.txn_scope,
            "txn_id": ev.txn_id,
        },
    )


async def get_event(conn: AsyncConnection, event_id: str) -> StoredEvent | None:
    row = (await conn.execute(select(*_EVENT_COLUMNS).where(Event.event_id == event_id))).first()
    return None if row is None else _to_event(row)


async def list_events_at(conn: AsyncConnection, positions: Sequence[int]) -> list[StoredEvent]:
    """The events at these stream positions (any that exist), oldest first."""
    if not positions:
        return []
    rows = await conn.execute(
        select(*_EVENT_COLUMNS)
        .where(Event.stream_pos.in_(list(positions)))
        .order_by(Event.stream_pos)
    )
    return [_to_event(r) for r in rows]


async def redact_event(
    conn: AsyncConnection, event_id: str, pruned: dict[str, object], redacted_by: str
) -> None:
    await conn.execute(
        update(Event)
        .where(Event.event_id == event_id)
        .values(content=encode_canonical(pruned).decode(), redacted_by=redacted_by)
    )


async def redact_prev_content(
    conn: AsyncConnection, redacted: StoredEvent, pruned: dict[str, object]
) -> None:
    """Prune the copy of a redacted state event's content kept as `prev_content` by the
    event that replaced it: a redaction must not live on in its successor's `unsigned`."""
    await conn.execute(
        update(Event)
        .where(
            # (room_id, type, state_key) leads ix_events_room_state_pos: a few rows at most.
            Event.room_id == redacted.room_id,
            Event.type == redacted.type,
            Event.state_key == redacted.state_key,
            Event.replaces_state == redacted.event_id,
        )
        .values(prev_content=encode_canonical(pruned).decode())
    )


def _room_events(descending: bool) -> Select[*tuple[Any, ...]]:  # Any: _EVENT_COLUMNS
    order = Event.stream_pos.desc() if descending else Event.stream_pos.asc()
    return (
        select(*_EVENT_COLUMNS)
        .where(
            Event.room_id == bindparam("room_id"),
            Event.stream_pos > bindparam("after"),
            Event.stream_pos <= bindparam("upto"),
        )
        .order_by(order)
        .limit(bindparam("limit", type_=Integer))
    )


# Built once: a /messages page runs one, and building the expression costs more than
# SQLite's read of a page.
_ROOM_EVENTS = {True: _room_events(True), False: _room_events(False)}


async def list_room_events(
    conn: AsyncConnection,
    room_id: str,
    *,
    after: int,
    upto: int,
    descending: bool,
    limit: int,
) -> list[StoredEvent]:
    """Events with `after < stream_pos <= upto`, newest first when `descending`."""
    rows = await conn.execute(
        _ROOM_EVENTS[descending],
        {"room_id": room_id, "after": after, "upto": upto, "limit": limit},
    )
    return [_to_event(r) for r in rows.all()]


def room_events_query(
    room_id: str, after: int, upto: int, descending: bool, limit: int
) -> Select[*tuple[Any, ...]]:  # Any: the row shape of _EVENT_COLUMNS
    """`list_room_events`' statement with its values: one range of `ix_events_room_pos` in
    either direction (a /messages page), whatever the room's length (tested on both
    engines)."""
    return _ROOM_EVENTS[descending].params(room_id=room_id, after=after, upto=upto, limit=limit)


_EVENTS_IN_ROOMS = (
    select(*_EVENT_COLUMNS)
    .where(
        Event.room_id.in_(bindparam("room_ids", expanding=True)),
        Event.stream_pos > bindparam("after"),
        Event.stream_pos <= bindparam("upto"),
    )
    .order_by(Event.stream_pos.asc())
    .limit(bindparam("limit"))
)


async def list_events_in_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], *, after: int, upto: int, limit: int
) -> list[StoredEvent]:
    """New events across many rooms (the cheap path of an incremental /sync)."""
    if not room_ids:
        return []
    rows = await conn.execute(
        _EVENTS_IN_ROOMS,
        {"room_ids": list(room_ids), "after": after, "upto": upto, "limit": limit},
    )
    return [_to_event(r) for r in rows]


# --- many rooms at once (an initial /sync) -----------------------------------------------
# Each statement is one index range per room (ix_events_room_pos, ix_events_room_state_pos,
# current_state's key), however long the rooms' histories are; tested on both engines.

_Newer = aliased(Event)
# The position of a room's `skip`+1-th newest event at or before `upto` (NULL if fewer).
_NTH_NEWEST = (
    select(_Newer.stream_pos)
    .where(_Newer.room_id == Room.room_id, _Newer.stream_pos <= bindparam("upto"))
    .order_by(_Newer.stream_pos.desc())
    .limit(1)
    .offset(bindparam("skip", type_=Integer))
    .correlate(Room)
    .scalar_subquery()
)
# MATERIALIZED: each room's bound is computed once, then is the start of an index range;
# inlined, PostgreSQL re-ran the subquery as a join filter on every event of the rooms.
_ROOM_BOUNDS = (
    select(Room.room_id.label("room_id"), func.coalesce(_NTH_NEWEST, 0).label("lo"))
    .where(Room.room_id.in_(bindparam("room_ids", expanding=True)))
    .cte("room_bounds")
    .prefix_with("MATERIALIZED")
)
_LATEST_OF_ROOMS = (
    select(*_EVENT_COLUMNS)
    .join(
        _ROOM_BOUNDS,
        and_(Event.room_id == _ROOM_BOUNDS.c.room_id, Event.stream_pos >= _ROOM_BOUNDS.c.lo),
    )
    .where(Event.stream_pos <= bindparam("upto"))
    .order_by(Event.stream_pos)
)


async def list_latest_events_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], *, upto: int, count: int
) -> dict[str, list[StoredEvent]]:
    """The newest `count` events at or before `upto` of each room, oldest first: fewer
    than `count` means the room has no older event."""
    out: dict[str, list[StoredEvent]] = {room_id: [] for room_id in room_ids}
    if not room_ids or count < 1:
        return out
    rows = await conn.execute(
        _LATEST_OF_ROOMS, {"room_ids": list(room_ids), "upto": upto, "skip": count - 1}
    )
    for r in rows.all():
        ev = _to_event(r)
        out[ev.room_id].append(ev)
    return out


_STATE_HISTORIES = (
    select(Event.room_id, Event.stream_pos, Event.content)
    .where(
        Event.room_id.in_(bindparam("room_ids", expanding=True)),
        Event.type == bindparam("type"),
        Event.state_key == bindparam("state_key"),
    )
    # Room by room, in stream order within each: exactly the index's order, so the plan is
    # one range of `ix_events_room_state_pos` per room. Ordering by position alone let
    # SQLite (statistics taken while the table was small) scan every event of the table
    # in position order instead: 0.4 s at a million events, against 0.1 ms.
    .order_by(Event.room_id, Event.stream_pos)
)


async def list_state_histories(
    conn: AsyncConnection, room_ids: Sequence[str], event_type: str, state_key: str
) -> dict[str, list[tuple[int, JsonDict]]]:
    """`list_state_history` of many rooms at once: (position, content), oldest first."""
    out: dict[str, list[tuple[int, JsonDict]]] = {room_id: [] for room_id in room_ids}
    if not room_ids:
        return out
    rows = await conn.execute(
        _STATE_HISTORIES,
        {"room_ids": list(room_ids), "type": event_type, "state_key": state_key},
    )
    for room_id, pos, content in rows.all():
        out[room_id].append((int(pos), decode_dict(content)))
    return out


_CURRENT_STATE_OF_ROOMS = (
    select(*_EVENT_COLUMNS)
    .join(CurrentState, CurrentState.event_id == Event.event_id)
    .where(CurrentState.room_id.in_(bindparam("room_ids", expanding=True)))
)
_EVENTS_BY_ID = select(*_EVENT_COLUMNS).where(
    Event.event_id.in_(bindparam("event_ids", expanding=True))
)


async def list_full_current_state_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], known: Mapping[str, StoredEvent]
) -> dict[str, list[StoredEvent]]:
    """Every current state event of each room, in one query; an event in `known` (by id)
    is taken from there rather than decoded again."""
    out: dict[str, list[StoredEvent]] = {room_id: [] for room_id in room_ids}
    if not room_ids:
        return out
    rows = await conn.execute(_CURRENT_STATE_OF_ROOMS, {"room_ids": list(room_ids)})
    for r in rows.all():
        ev = known.get(r[1]) or _to_event(r)
        out[ev.room_id].append(ev)
    return out


async def list_events_by_id(conn: AsyncConnection, event_ids: Sequence[str]) -> list[StoredEvent]:
    if not event_ids:
        return []
    rows = await conn.execute(_EVENTS_BY_ID, {"event_ids": list(event_ids)})
    return [_to_event(r) for r in rows.all()]


_EVENTS_BETWEEN = (
    select(*_EVENT_COLUMNS)
    .where(Event.stream_pos > bindparam("after"), Event.stream_pos <= bindparam("upto"))
    .order_by(Event.stream_pos.asc())
)


async def list_events_between(conn: AsyncConnection, *, after: int, upto: int) -> list[StoredEvent]:
    """Every event in (after, upto], all rooms, oldest first: a range of the primary key,
    so the caller bounds it by bounding the window (`sync/window.py`)."""
    rows = await conn.execute(_EVENTS_BETWEEN, {"after": after, "upto": upto})
    return [_to_event(r) for r in rows]


async def list_state_at(
    conn: AsyncConnection, room_id: str, before: int, *, after: int = 0
) -> list[StoredEvent]:
    """The room state just before position `before` (the latest event per state key).

    Rooms are linear on one server, so "state at" is the last state event per key by
    stream position. With `after`, only keys that changed in `(after, before)`.
    """
    latest = (
        select(func.max(Event.stream_pos).label("pos"))
        .where(
            Event.room_id == room_id,
            Event.state_key.is_not(None),
            Event.stream_pos < before,
            Event.stream_pos > after,
        )
        .group_by(Event.type, Event.state_key)
        .subquery()
    )
    rows = await conn.execute(
        select(*_EVENT_COLUMNS)
        .join(latest, Event.stream_pos == latest.c.pos)
        .order_by(Event.stream_pos)
    )
    return [_to_event(r) for r in rows]


def state_history_query(
    room_id: str, event_type: str, state_key: str
) -> Select[*tuple[Any, ...]]:  # Any: the row shape of _EVENT_COLUMNS
    """One range of `ix_events_room_state_pos`, whatever the room's length (tested on both
    engines: without the position in the index SQLite walked the room's whole history)."""
    return _STATE_HISTORY.params(room_id=room_id, type=event_type, state_key=state_key)


_STATE_HISTORY = (
    select(*_EVENT_COLUMNS)
    .where(
        Event.room_id == bindparam("room_id"),
        Event.type == bindparam("type"),
        Event.state_key == bindparam("state_key"),
    )
    .order_by(Event.stream_pos)
)


async def list_state_history(
    conn: AsyncConnection, room_id: str, event_type: str, state_key: str
) -> list[tuple[int, StoredEvent]]:
    """Every version of one state key, oldest first (membership and visibility history)."""
    rows = await conn.execute(
        _STATE_HISTORY, {"room_id": room_id, "type": event_type, "state_key": state_key}
    )
    return [(int(r[0]), _to_event(r)) for r in rows.all()]


# --- current state and memberships -------------------------------------------------------


async def list_current_state(
    conn: AsyncConnection, room_id: str, types: Sequence[str] | None = None
) -> list[StoredEvent]:
    query = (
        select(*_EVENT_COLUMNS)
        .join(CurrentState, CurrentState.event_id == Event.event_id)
        .where(CurrentState.room_id == room_id)
    )
    if types is not None:
        query = query.where(CurrentState.type.in_(types))
    rows = await conn.execute(query.order_by(Event.stream_pos))
    return [_to_event(r) for r in rows]


async def list_current_state_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], types: Sequence[str]
) -> list[StoredEvent]:
    """The current state of `types` (empty state keys) in many rooms, in one query."""
    if not room_ids:
        return []
    rows = await conn.execute(
        select(*_EVENT_COLUMNS)
        .join(CurrentState, CurrentState.event_id == Event.event_id)
        .where(
            CurrentState.room_id.in_(list(room_ids)),
            CurrentState.type.in_(list(types)),
            CurrentState.state_key == "",
        )
    )
    return [_to_event(r) for r in rows]


async def get_current_state_event(
    conn: AsyncConnection, room_id: str, event_type: str, state_key: str
) -> StoredEvent | None:
    row = (
        await conn.execute(
            select(*_EVENT_COLUMNS)
            .join(CurrentState, CurrentState.event_id == Event.event_id)
            .where(
                CurrentState.room_id == room_id,
                CurrentState.type == event_type,
                CurrentState.state_key == state_key,
            )
        )
    ).first()
    return None if row is None else _to_event(row)


async def set_current_state(conn: AsyncConnection, ev: StoredEvent) -> None:
    assert ev.state_key is not None  # noqa: S101 - caller checked is_state
    await upsert(
        conn,
        CurrentState,
        {
            "room_id": ev.room_id,
            "type": ev.type,
            "state_key": ev.state_key,
            "event_id": ev.event_id,
            "stream_pos": ev.stream_pos,
        },
        ("room_id", "type", "state_key"),
    )


async def set_membership(conn: AsyncConnection, ev: StoredEvent, membership: str) -> None:
    assert ev.state_key is not None  # noqa: S101 - member events are state events
    await upsert(
        conn,
        RoomMembership,
        {
            "room_id": ev.room_id,
            "user_id": ev.state_key,
            "membership": membership,
            "event_id": ev.event_id,
            "stream_pos": ev.stream_pos,
            "forgotten": False,
        },
        ("room_id", "user_id"),
    )


# --- transaction ids ---------------------------------------------------------------------


async def get_txn_event(
    conn: AsyncConnection, user_id: str, device_id: str, scope: str, txn_id: str
) -> str | None:
    return await conn.scalar(
        _GET_TXN, {"sender": user_id, "device": device_id, "scope": scope, "txn_id": txn_id}
    )


async def list_unredacted_events_about(
    conn: AsyncConnection, user_id: str, room_ids: Sequence[str]
) -> list[StoredEvent]:
    """Every event `user_id` sent, and every member event about them in these rooms, that
    is not redacted yet, oldest first (an erasure prunes them: `matrix/deactivation/`).

    Two indexed reads: by sender (uq_events_txn leads with it) and by (room, type, state
    key) (ix_events_room_state_pos), rather than one OR that would scan the table.
    """
    sent = await conn.execute(
        select(*_EVENT_COLUMNS).where(Event.sender == user_id, Event.redacted_by.is_(None))
    )
    found = {ev.stream_pos: ev for ev in map(_to_event, sent)}
    if room_ids:
        about = await conn.execute(
            select(*_EVENT_COLUMNS).where(
                Event.room_id.in_(list(room_ids)),
                Event.type == EventType.MEMBER,
                Event.state_key == user_id,
                Event.redacted_by.is_(None),
            )
        )
        found.update((ev.stream_pos, ev) for ev in map(_to_event, about))
    return [found[pos] for pos in sorted(found)]
