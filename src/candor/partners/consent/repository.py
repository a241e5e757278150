"""SQL for room grants and each member's answer. Functions take the caller's connection.

It also reads (and locks) the app's status and agreement version on that connection, so a
grant and the terms it holds under come from one snapshot.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.partners import PartnerApp, RoomGrant, RoomGrantMember


@dataclass(frozen=True, slots=True)
class GrantRow:
    grant_id: str
    client_id: str
    room_id: str
    requested_by: str
    status: str
    days: int
    created_ts: int
    live_ts: int | None
    expires_ts: int | None
    ended_ts: int | None
    ended_reason: str | None
    window_from: int | None
    members_pos: int | None
    agreement_version: int


@dataclass(frozen=True, slots=True)
class MemberRow:
    grant_id: str
    user_id: str
    decision: str
    include_history: bool
    decided_ts: int | None


_GRANT_COLUMNS = (
    RoomGrant.grant_id,
    RoomGrant.client_id,
    RoomGrant.room_id,
    RoomGrant.requested_by,
    RoomGrant.status,
    RoomGrant.days,
    RoomGrant.created_ts,
    RoomGrant.live_ts,
    RoomGrant.expires_ts,
    RoomGrant.ended_ts,
    RoomGrant.ended_reason,
    RoomGrant.window_from,
    RoomGrant.members_pos,
    RoomGrant.agreement_version,
)


def _grant(r: tuple[object, ...]) -> GrantRow:
    return GrantRow(*r)  # type: ignore[arg-type]  # columns in field order


async def add_grant(conn: AsyncConnection, row: GrantRow) -> None:
    await conn.execute(
        insert(RoomGrant).values(
            {c.key: getattr(row, c.key) for c in _GRANT_COLUMNS},
        )
    )


async def add_members(conn: AsyncConnection, rows: Sequence[MemberRow]) -> None:
    await conn.execute(
        insert(RoomGrantMember),
        [
            {
                "grant_id": m.grant_id,
                "user_id": m.user_id,
                "decision": m.decision,
                "include_history": m.include_history,
                "decided_ts": m.decided_ts,
            }
            for m in rows
        ],
    )


async def get_grant(conn: AsyncConnection, grant_id: str) -> GrantRow | None:
    row = (
        await conn.execute(select(*_GRANT_COLUMNS).where(RoomGrant.grant_id == grant_id))
    ).first()
    return None if row is None else _grant(tuple(row))


async def get_grants(conn: AsyncConnection, grant_ids: Sequence[str]) -> list[GrantRow]:
    if not grant_ids:
        return []
    rows = await conn.execute(
        select(*_GRANT_COLUMNS).where(RoomGrant.grant_id.in_(list(grant_ids)))
    )
    return [_grant(tuple(r)) for r in rows]


async def list_grants_of_member(
    conn: AsyncConnection, user_id: str, *, client_id: str | None = None
) -> list[GrantRow]:
    """Grants `user_id` was asked about, newest first (optionally for one app)."""
    query = (
        select(*_GRANT_COLUMNS)
        .join(RoomGrantMember, RoomGrantMember.grant_id == RoomGrant.grant_id)
        .where(RoomGrantMember.user_id == user_id)
    )
    if client_id is not None:
        query = query.where(RoomGrant.client_id == client_id)
    rows = await conn.execute(query.order_by(RoomGrant.created_ts.desc(), RoomGrant.grant_id))
    return [_grant(tuple(r)) for r in rows]


async def list_live_grants_of_room(
    conn: AsyncConnection, client_id: str, room_id: str, user_id: str, status: str
) -> list[GrantRow]:
    """The grants of (app, room) in `status` that asked `user_id`, newest first."""
    rows = await conn.execute(
        select(*_GRANT_COLUMNS)
        .join(RoomGrantMember, RoomGrantMember.grant_id == RoomGrant.grant_id)
        .where(
            RoomGrant.client_id == client_id,
            RoomGrant.room_id == room_id,
            RoomGrant.status == status,
            RoomGrantMember.user_id == user_id,
        )
        .order_by(RoomGrant.created_ts.desc(), RoomGrant.grant_id)
    )
    return [_grant(tuple(r)) for r in rows]


async def list_open_grants(
    conn: AsyncConnection, client_id: str, room_id: str, statuses: Sequence[str]
) -> list[GrantRow]:
    rows = await conn.execute(
        select(*_GRANT_COLUMNS).where(
            RoomGrant.client_id == client_id,
            RoomGrant.room_id == room_id,
            RoomGrant.status.in_(list(statuses)),
        )
    )
    return [_grant(tuple(r)) for r in rows]


async def list_members(
    conn: AsyncConnection, grant_ids: Sequence[str]
) -> dict[str, list[MemberRow]]:
    if not grant_ids:
        return {}
    rows = await conn.execute(
        select(
            RoomGrantMember.grant_id,
            RoomGrantMember.user_id,
            RoomGrantMember.decision,
            RoomGrantMember.include_history,
            RoomGrantMember.decided_ts,
        )
        .where(RoomGrantMember.grant_id.in_(list(grant_ids)))
        .order_by(RoomGrantMember.user_id)
    )
    out: dict[str, list[MemberRow]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(MemberRow(r[0], r[1], r[2], bool(r[3]), r[4]))
    return out


async def set_decision(
    conn: AsyncConnection, grant_id: str, user_id: str, decision: str, history: bool, ts: int
) -> None:
    await conn.execute(
        update(RoomGrantMember)
        .where(RoomGrantMember.grant_id == grant_id, RoomGrantMember.user_id == user_id)
        .values(decision=decision, include_history=history, decided_ts=ts)
    )


async def lock_grant(conn: AsyncConnection, grant_id: str) -> None:
    """Take the grant's row lock until the transaction ends (a no-op update)."""
    await conn.execute(
        update(RoomGrant).where(RoomGrant.grant_id == grant_id).values(grant_id=RoomGrant.grant_id)
    )


async def set_status(
    conn: AsyncConnection,
    grant_id: str,
    *,
    expected: str,
    status: str,
    **values: object,
) -> None:
    """Move a grant from `expected` to `status`, unless another writer moved it first.

    The `status = expected` condition makes each transition a compare-and-set: an end
    observed by a reader never overwrites a later one (a revoke, say) written meanwhile.
    """
    await conn.execute(
        update(RoomGrant)
        .where(RoomGrant.grant_id == grant_id, RoomGrant.status == expected)
        .values(status=status, **values)
    )


async def get_app_terms(
    conn: AsyncConnection, client_ids: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """Each known app's (status, current agreement version)."""
    if not client_ids:
        return {}
    rows = await conn.execute(
        select(PartnerApp.client_id, PartnerApp.status, PartnerApp.agreement_version).where(
            PartnerApp.client_id.in_(list(client_ids))
        )
    )
    return {r[0]: (r[1], int(r[2])) for r in rows}


async def get_app_access(conn: AsyncConnection, client_id: str) -> tuple[str, str] | None:
    """The app's (status, space-separated scopes), or None for an unknown app."""
    row = (
        await conn.execute(
            select(PartnerApp.status, PartnerApp.scopes).where(PartnerApp.client_id == client_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def lock_app(conn: AsyncConnection, client_id: str) -> tuple[str, int]:
    """The app's (status, agreement version), its row locked until the transaction ends.

    An unknown app reads as ("", 0): no status, so `check_app` refuses it.

    A no-op update takes the lock (PostgreSQL; SQLite has one writer anyway). Suspending an
    app or publishing a new agreement updates the same row first, so a grant being written
    and the app's change are serialised: either the grant is written first and the change
    ends it, or the change is seen here and the grant is refused.
    """
    await conn.execute(
        update(PartnerApp)
        .where(PartnerApp.client_id == client_id)
        .values(client_id=PartnerApp.client_id)
    )
    return (await get_app_terms(conn, [client_id])).get(client_id, ("", 0))
