"""The E2EE part of one /sync response, read in one round trip.

/sync runs this on every request: pending to-device messages, device-list changes,
membership changes in the user's rooms and the device's key counts, as one UNION ALL
over the tables of four domains. It is /sync's query, so it lives here, not in any one
of those domains' repositories; `sync/e2ee.py` turns the rows into the response.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    TextClause,
    bindparam,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from candor.store.db import NowReads
from candor.store.models.events import Event
from candor.store.models.keys import DeviceListChange, FallbackKey, OneTimeKey, ToDeviceMessage
from candor.store.models.rooms import CurrentState, RoomMembership


@dataclass(frozen=True, slots=True)
class SyncKeyRows:
    """Everything the E2EE part of one /sync response reads."""

    # (stream position, sender, type, content JSON) of pending to-device messages.
    to_device: list[tuple[int, str, str, str]]
    # Users whose keys changed in the window, and (room id, user id, membership) of
    # current memberships changed in it in the rooms the user is or was in.
    key_changes: set[str]
    memberships: list[tuple[str, str, str]]
    one_time_key_counts: dict[str, int]
    unused_fallback_key_types: list[str]


def _build_sync_statement() -> Any:  # Any: a SQLAlchemy CompoundSelect
    """Four reads as one UNION ALL, built once: it runs on every /sync.

    Columns: kind, a, b, c, n. Kind 0 is a pending to-device message (sender, type,
    content, position), 1 a device-list change (user), 2 a membership changed in one of
    the user's rooms (user, room, membership), 3 a one-time key count (algorithm, count),
    4 an unused fallback key (algorithm).
    """
    user = bindparam("user_id", type_=String)
    device = bindparam("device_id", type_=String)
    after = bindparam("after", type_=BigInteger)
    upto = bindparam("upto", type_=BigInteger)
    pending = (
        select(
            ToDeviceMessage.sender.label("a"),
            ToDeviceMessage.type.label("b"),
            ToDeviceMessage.content.label("c"),
            ToDeviceMessage.stream_pos.label("n"),
        )
        .where(
            ToDeviceMessage.user_id == user,
            ToDeviceMessage.device_id == device,
            ToDeviceMessage.stream_pos > bindparam("delivered", type_=BigInteger),
            ToDeviceMessage.stream_pos <= upto,
        )
        .order_by(ToDeviceMessage.stream_pos)
        .limit(bindparam("limit", type_=Integer))
        .subquery()
    )
    empty = literal("")
    my_rooms = select(RoomMembership.room_id).where(RoomMembership.user_id == user)
    return union_all(
        select(literal(0).label("kind"), pending.c.a, pending.c.b, pending.c.c, pending.c.n),
        select(literal(1), DeviceListChange.user_id, empty, empty, literal(0)).where(
            DeviceListChange.stream_pos > after, DeviceListChange.stream_pos <= upto
        ),
        select(
            literal(2),
            RoomMembership.user_id,
            RoomMembership.room_id,
            RoomMembership.membership,
            literal(0),
        ).where(
            RoomMembership.room_id.in_(my_rooms),
            RoomMembership.stream_pos > after,
            RoomMembership.stream_pos <= upto,
        ),
        select(literal(3), OneTimeKey.algorithm, empty, empty, func.count())
        .where(OneTimeKey.user_id == user, OneTimeKey.device_id == device)
        .group_by(OneTimeKey.algorithm),
        select(literal(4), FallbackKey.algorithm, empty, empty, literal(0)).where(
            FallbackKey.user_id == user,
            FallbackKey.device_id == device,
            FallbackKey.used.is_(False),
        ),
    )


_SYNC_STATEMENT = _build_sync_statement()


async def list_sync_rows(
    conn: AsyncConnection,
    user_id: str,
    device_id: str,
    *,
    after: int,
    delivered: int,
    upto: int,
    limit: int,
) -> SyncKeyRows:
    """Device-list changes in (after, upto], to-device messages in (delivered, upto]."""
    rows = await conn.execute(
        _SYNC_STATEMENT,
        {
            "user_id": user_id,
            "device_id": device_id,
            "after": after,
            "delivered": delivered,
            "upto": upto,
            "limit": limit,
        },
    )
    to_device: list[tuple[int, str, str, str]] = []
    key_changes: set[str] = set()
    memberships: list[tuple[str, str, str]] = []
    counts: dict[str, int] = {}
    unused: list[str] = []
    for kind, a, b, c, n in rows:
        if kind == 0:
            to_device.append((int(n), a, b, c))
        elif kind == 1:
            key_changes.add(a)
        elif kind == 2:
            memberships.append((b, a, c))
        elif kind == 3:
            counts[a] = int(n)
        else:
            unused.append(a)
    to_device.sort()
    return SyncKeyRows(to_device, key_changes, memberships, counts, sorted(unused))


# The key counts alone, for a /sync whose window holds nothing else for the device
# (`SyncService._build_from_window`); plain SQL so that SQLite runs it on sqlite3 directly.
_KEY_COUNTS: TextClause = text(
    "SELECT 3, algorithm, COUNT(*) FROM one_time_keys"
    " WHERE user_id = :user_id AND device_id = :device_id GROUP BY algorithm"
    " UNION ALL SELECT 4, algorithm, 0 FROM fallback_keys"
    " WHERE user_id = :user_id AND device_id = :device_id AND NOT used"
)


async def key_counts_now(
    now: NowReads, user_id: str, device_id: str
) -> tuple[dict[str, int], list[str]]:
    """The device's one-time key counts and unused fallback key types, read now."""
    counts: dict[str, int] = {}
    unused: list[str] = []
    for kind, algorithm, n in await now.rows(
        _KEY_COUNTS, {"user_id": user_id, "device_id": device_id}
    ):
        if kind == 3:
            counts[algorithm] = int(n)
        else:
            unused.append(algorithm)
    return counts, sorted(unused)


# --- /context and /timestamp_to_event (`sync/history.py`) --------------------------------
# Both read by position through indexes, so their cost does not grow with a room's history.


def _state_at() -> Any:  # Any: a SQLAlchemy Select
    """For each of the room's state keys (`current_state`, one row per key), the position of
    its latest version at or before `pos`: one seek of `ix_events_room_state_pos` per key.
    A linear room never drops a key, so the current keys are every key there ever was."""
    version = aliased(Event)
    latest = (
        select(func.max(version.stream_pos))
        .where(
            version.room_id == CurrentState.room_id,
            version.type == CurrentState.type,
            version.state_key == CurrentState.state_key,
            version.stream_pos <= bindparam("pos", type_=BigInteger),
        )
        .scalar_subquery()
    )
    return select(latest).where(CurrentState.room_id == bindparam("room_id", type_=String))


_STATE_AT = _state_at()
# With lazy-loaded members: every key but the member events of people not named.
_STATE_AT_LAZY = _STATE_AT.where(
    or_(
        CurrentState.type != "m.room.member",
        CurrentState.state_key.in_(bindparam("members", expanding=True)),
    )
)


def state_at_query(
    room_id: str, pos: int, members: Sequence[str] | None
) -> Any:  # Any: a SQLAlchemy Select
    """`list_state_positions_at`'s statement with its values (its plan is tested)."""
    if members is None:
        return _STATE_AT.params(room_id=room_id, pos=pos)
    return _STATE_AT_LAZY.params(room_id=room_id, pos=pos, members=list(members))


async def list_state_positions_at(
    conn: AsyncConnection, room_id: str, pos: int, members: Sequence[str] | None = None
) -> list[int]:
    """Positions of the room state just after the event at `pos`; with `members`, only
    those people's member events (lazy-loading)."""
    rows = await conn.execute(state_at_query(room_id, pos, members))
    return sorted(int(p) for (p,) in rows if p is not None)


def _by_timestamp(forward: bool) -> Any:  # Any: a SQLAlchemy Select
    """A room's events from a (timestamp, position) cursor on, in timestamp order: one
    range of `ix_events_room_ts`. The plain bound on the timestamp is the index range;
    the OR only steps past the cursor's own row among equal timestamps."""
    ts = bindparam("ts", type_=BigInteger)
    pos = bindparam("pos", type_=BigInteger)
    columns = select(Event.stream_pos, Event.event_id, Event.origin_server_ts).where(
        Event.room_id == bindparam("room_id", type_=String)
    )
    if forward:
        return (
            columns.where(
                Event.origin_server_ts >= ts,
                or_(Event.origin_server_ts > ts, Event.stream_pos > pos),
            )
            .order_by(Event.origin_server_ts.asc(), Event.stream_pos.asc())
            .limit(bindparam("limit", type_=Integer))
        )
    return (
        columns.where(
            Event.origin_server_ts <= ts,
            or_(Event.origin_server_ts < ts, Event.stream_pos < pos),
        )
        .order_by(Event.origin_server_ts.desc(), Event.stream_pos.desc())
        .limit(bindparam("limit", type_=Integer))
    )


_BY_TIMESTAMP = {True: _by_timestamp(True), False: _by_timestamp(False)}


def by_timestamp_query(
    room_id: str, ts: int, pos: int, forward: bool, limit: int
) -> Any:  # Any: a SQLAlchemy Select
    """`list_events_by_timestamp`'s statement with its values (its plan is tested)."""
    return _BY_TIMESTAMP[forward].params(room_id=room_id, ts=ts, pos=pos, limit=limit)


async def list_events_by_timestamp(
    conn: AsyncConnection, room_id: str, *, ts: int, pos: int, forward: bool, limit: int
) -> list[tuple[int, str, int]]:
    """(position, event id, timestamp) of up to `limit` events past the cursor (ts, pos):
    forwards, those with a later (timestamp, position); backwards, an earlier one."""
    rows = await conn.execute(by_timestamp_query(room_id, ts, pos, forward, limit))
    return [(int(p), str(e), int(t)) for p, e, t in rows]
