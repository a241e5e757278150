"""SQL for the report queue and for locked or suspended accounts (`store/models/moderation`)."""

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import upsert
from candor.store.models.accounts import User
from candor.store.models.moderation import AccountRestriction, ModerationReport


@dataclass(frozen=True, slots=True)
class ReportRow:
    report_id: int
    kind: str
    reporter_id: str
    room_id: str | None
    event_id: str | None
    target_user_id: str | None
    reason: str
    received_ts: int
    status: str
    closed_by: str | None
    closed_ts: int | None
    note: str | None


_REPORT_COLUMNS = (
    ModerationReport.report_id,
    ModerationReport.kind,
    ModerationReport.reporter_id,
    ModerationReport.room_id,
    ModerationReport.event_id,
    ModerationReport.target_user_id,
    ModerationReport.reason,
    ModerationReport.received_ts,
    ModerationReport.status,
    ModerationReport.closed_by,
    ModerationReport.closed_ts,
    ModerationReport.note,
)


async def add_report(
    conn: AsyncConnection,
    *,
    kind: str,
    reporter_id: str,
    room_id: str | None,
    event_id: str | None,
    target_user_id: str | None,
    reason: str,
    ts: int,
) -> int:
    result = await conn.execute(
        insert(ModerationReport)
        .values(
            kind=kind,
            reporter_id=reporter_id,
            room_id=room_id,
            event_id=event_id,
            target_user_id=target_user_id,
            reason=reason,
            received_ts=ts,
            status="open",
        )
        .returning(ModerationReport.report_id)
    )
    return int(result.scalar_one())


async def list_reports(
    conn: AsyncConnection, status: str | None, after: int | None, limit: int
) -> list[ReportRow]:
    """Reports in the order they came in, after report `after`, of one status or all."""
    stmt = select(*_REPORT_COLUMNS).order_by(ModerationReport.report_id).limit(limit)
    if status is not None:
        stmt = stmt.where(ModerationReport.status == status)
    if after is not None:
        stmt = stmt.where(ModerationReport.report_id > after)
    return [ReportRow(**row._mapping) for row in (await conn.execute(stmt)).all()]


async def get_report(conn: AsyncConnection, report_id: int) -> ReportRow | None:
    row = (
        await conn.execute(select(*_REPORT_COLUMNS).where(ModerationReport.report_id == report_id))
    ).first()
    return None if row is None else ReportRow(**row._mapping)


async def close_report(
    conn: AsyncConnection, report_id: int, status: str, by: str, ts: int, note: str | None
) -> bool:
    """Mark an open report resolved or dismissed; False if it is unknown or already closed."""
    result = await conn.execute(
        update(ModerationReport)
        .where(ModerationReport.report_id == report_id, ModerationReport.status == "open")
        .values(status=status, closed_by=by, closed_ts=ts, note=note)
    )
    return bool(result.rowcount)


async def account(conn: AsyncConnection, user_id: str) -> tuple[bool, bool] | None:
    """(is admin, deactivated) for a known account, else None."""
    row = (
        await conn.execute(select(User.is_admin, User.deactivated).where(User.user_id == user_id))
    ).first()
    return None if row is None else (bool(row[0]), bool(row[1]))


async def get_restriction(conn: AsyncConnection, user_id: str) -> tuple[bool, bool]:
    """(locked, suspended); an account without a row is neither."""
    row = (
        await conn.execute(
            select(AccountRestriction.locked, AccountRestriction.suspended).where(
                AccountRestriction.user_id == user_id
            )
        )
    ).first()
    return (False, False) if row is None else (bool(row[0]), bool(row[1]))


async def set_restriction(
    conn: AsyncConnection, user_id: str, locked: bool, suspended: bool, by: str, ts: int
) -> None:
    await upsert(
        conn,
        AccountRestriction,
        {
            "user_id": user_id,
            "locked": locked,
            "suspended": suspended,
            "updated_by": by,
            "updated_ts": ts,
        },
        ("user_id",),
    )
