"""SQL for engagement reports: the per-cell aggregate, stored reports, the ε ledger.

The aggregate is one range scan of `share_events` over the (client_id, day) index, grouped
by the report's cell: no join, so one app's period costs the same whatever other apps do.
"""

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, case, distinct, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.reports.aggregate import CellCounts
from candor.store.models.reports import Report
from candor.store.models.share import ShareEvent


def aggregate(
    conn: Connection,
    client_id: str,
    first_day: str,
    last_day: str,
    *,
    recipients_cap: int | None = None,
) -> list[CellCounts]:
    """Every non-empty cell of `client_id` between two UTC days (inclusive), sorted.

    Synchronous, for `Database.read_off_loop`: over millions of events this scan takes
    seconds. The covering index `ix_share_events_cell` holds every column it reads, in
    GROUP BY order, so it never touches the table. `recipients_cap` counts at most that
    many recipients per card (the DP mode's bound on one send's contribution).
    """
    e = ShareEvent
    is_send = e.kind == ShareEvent.SEND
    recipients: ColumnElement[int] = e.recipients.expression
    if recipients_cap is not None:
        # SQLite's two-argument min() is PostgreSQL's least().
        pg = conn.dialect.name == "postgresql"
        recipients = (func.least if pg else func.min)(e.recipients, recipients_cap)
    stmt = (
        select(
            e.day,
            e.interface,
            e.surface,
            e.variant,
            func.sum(case((is_send, 1), else_=0)).label("sends"),
            func.sum(case((is_send, recipients), else_=0)).label("recipients"),
            func.sum(case((e.kind == ShareEvent.FIRST_CLICK, 1), else_=0)).label("first"),
            func.sum(case((e.kind == ShareEvent.REPEAT_CLICK, 1), else_=0)).label("repeat"),
            func.count(distinct(e.person)).label("people"),
        )
        .where(e.client_id == client_id, e.day >= first_day, e.day <= last_day)
        .group_by(e.day, e.interface, e.surface, e.variant)
        .order_by(e.day, e.interface, e.surface, e.variant)
    )
    return [
        CellCounts(
            r.day,
            r.interface,
            r.surface,
            r.variant,
            int(r.sends),
            int(r.recipients),
            int(r.first),
            int(r.repeat),
            int(r.people),
        )
        for r in conn.execute(stmt)
    ]


async def get_report(
    conn: AsyncConnection, client_id: str, period_start: str, period_end: str
) -> Mapping[str, object] | None:
    row = (
        await conn.execute(
            select(Report).where(
                Report.client_id == client_id,
                Report.period_start == period_start,
                Report.period_end == period_end,
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def get_report_by_id(conn: AsyncConnection, report_id: str) -> Mapping[str, object] | None:
    row = (await conn.execute(select(Report).where(Report.report_id == report_id))).first()
    return None if row is None else dict(row._mapping)


async def list_reports(conn: AsyncConnection, client_id: str) -> list[Mapping[str, object]]:
    """The app's reports, newest period first, then newest made."""
    rows = await conn.execute(
        select(Report)
        .where(Report.client_id == client_id)
        .order_by(Report.period_end.desc(), Report.created_ts.desc())
    )
    return [dict(r._mapping) for r in rows]


async def made_periods(
    conn: AsyncConnection, client_ids: Sequence[str]
) -> set[tuple[str, str, str]]:
    """(client_id, start, end) of every stored report of these apps, bodies not read."""
    if not client_ids:
        return set()
    rows = await conn.execute(
        select(Report.client_id, Report.period_start, Report.period_end).where(
            Report.client_id.in_(client_ids)
        )
    )
    return {(r.client_id, r.period_start, r.period_end) for r in rows}


async def epsilon_spent(conn: AsyncConnection, client_id: str) -> float:
    value = (
        await conn.execute(
            select(func.coalesce(func.sum(Report.epsilon), 0.0)).where(
                Report.client_id == client_id
            )
        )
    ).scalar_one()
    return float(value or 0.0)


async def add_report(conn: AsyncConnection, row: Mapping[str, object]) -> None:
    await conn.execute(insert(Report).values(**row))
