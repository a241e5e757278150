"""SQL for presence rows, and "who shares a room with whom" as presence asks it.

Both questions are bounded by what changed, not by how many rooms the reader is in: a
window's changes are a range of `stream_pos` (`ix_presence_pos`), and each changed row is
kept only if its person shares a joined room with the reader, checked from the changed
person's joined rooms (`ix_room_memberships_user`) against the reader's membership in each
(the primary key). Only an initial /sync walks the reader's rooms' members.
"""

from collections.abc import Sequence

from sqlalchemy import Exists, and_, bindparam, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import SQLCoreOperations

from candor.matrix.constants import Membership
from candor.matrix.presence.rules import StoredPresence
from candor.store.db import upsert
from candor.store.models.presence import Presence
from candor.store.models.rooms import RoomMembership

_Theirs = aliased(RoomMembership)
_Mine = aliased(RoomMembership)

_COLUMNS = (
    Presence.user_id,
    Presence.state,
    Presence.status_msg,
    Presence.last_active_ts,
    Presence.stream_pos,
)


def _shares_room_with(reader: SQLCoreOperations[str], other: SQLCoreOperations[str]) -> Exists:
    """EXISTS: `other` and `reader` are both joined to some room (from `other`'s rooms)."""
    return exists(
        select(1)
        .select_from(_Theirs)
        .join(
            _Mine,
            and_(
                _Mine.room_id == _Theirs.room_id,
                _Mine.user_id == reader,
                _Mine.membership == Membership.JOIN,
            ),
        )
        .where(_Theirs.user_id == other, _Theirs.membership == Membership.JOIN)
    )


_GET = select(*_COLUMNS).where(Presence.user_id == bindparam("user_id"))
_SHARE = select(_shares_room_with(bindparam("reader"), bindparam("other")))
_CHANGED = (
    select(*_COLUMNS)
    .where(
        Presence.stream_pos > bindparam("after"),
        Presence.stream_pos <= bindparam("upto"),
        or_(
            Presence.user_id == bindparam("reader"),
            _shares_room_with(bindparam("reader"), Presence.user_id),
        ),
    )
    .order_by(Presence.stream_pos.desc())
    .limit(bindparam("limit"))
)
_ROOM_MATES = (
    select(_Theirs.user_id)
    .select_from(_Mine)
    .join(_Theirs, _Theirs.room_id == _Mine.room_id)
    .where(
        _Mine.user_id == bindparam("reader"),
        _Mine.membership == Membership.JOIN,
        _Theirs.membership == Membership.JOIN,
    )
)
_CURRENT = (
    select(*_COLUMNS)
    .where(
        Presence.stream_pos <= bindparam("upto"),
        Presence.state != "offline",
        or_(Presence.user_id == bindparam("reader"), Presence.user_id.in_(_ROOM_MATES)),
    )
    .order_by(Presence.stream_pos.desc())
    .limit(bindparam("limit"))
)


def _row(r: Sequence[object]) -> StoredPresence:
    user_id, state, status_msg, last_active, pos = r
    return StoredPresence(
        str(user_id),
        str(state),
        None if status_msg is None else str(status_msg),
        int(str(last_active)),
        int(str(pos)),
    )


async def get_presence(conn: AsyncConnection, user_id: str) -> StoredPresence | None:
    row = (await conn.execute(_GET, {"user_id": user_id})).first()
    return None if row is None else _row(tuple(row))


async def shares_room(conn: AsyncConnection, reader: str, other: str) -> bool:
    """Whether both are joined to some room."""
    return bool(await conn.scalar(_SHARE, {"reader": reader, "other": other}))


async def list_changed(
    conn: AsyncConnection, reader: str, *, after: int, upto: int, limit: int
) -> list[StoredPresence]:
    """Rows of `reader` and their room-mates changed in (after, upto], newest first."""
    rows = await conn.execute(
        _CHANGED, {"reader": reader, "after": after, "upto": upto, "limit": limit}
    )
    return [_row(tuple(r)) for r in rows]


async def list_current(
    conn: AsyncConnection, reader: str, *, upto: int, limit: int
) -> list[StoredPresence]:
    """Rows of `reader` and their room-mates not set offline, newest first (initial sync)."""
    rows = await conn.execute(_CURRENT, {"reader": reader, "upto": upto, "limit": limit})
    return [_row(tuple(r)) for r in rows]


async def set_presence(conn: AsyncConnection, row: StoredPresence) -> None:
    """Insert or replace the row (the caller took `row.stream_pos` in this transaction)."""
    await upsert(
        conn,
        Presence,
        {
            "user_id": row.user_id,
            "state": row.state,
            "status_msg": row.status_msg,
            "last_active_ts": row.last_active_ts,
            "stream_pos": row.stream_pos,
        },
        ("user_id",),
    )


async def set_last_active(conn: AsyncConnection, user_id: str, ts: int) -> None:
    """Move the activity time only (no new position: nothing others see changes now)."""
    await conn.execute(
        update(Presence)
        .where(Presence.user_id == user_id, Presence.last_active_ts < ts)
        .values(last_active_ts=ts)
    )


async def delete_presence(conn: AsyncConnection, user_id: str) -> bool:
    """Remove the person's row (they then read as offline); whether there was one."""
    result = await conn.execute(delete(Presence).where(Presence.user_id == user_id))
    return bool(result.rowcount)
