"""SQL for engagement reports: the per-cell aggregate, stored reports, the ε ledger.

The aggregate is one range scan of `share_events` over the (client_id, day) index, grouped
by the report's cell: no join, so one app's period costs the same whatever other apps do.
The differential-privacy aggregate (`aggregate_bounded`) adds the per-person bound.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, Subquery, case, distinct, func, insert, select, union_all
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.reports.aggregate import CellCounts
from candor.store.models.reports import Report
from candor.store.models.share import ShareEvent


def aggregate(conn: Connection, client_id: str, first_day: str, last_day: str) -> list[CellCounts]:
    """Every non-empty cell of `client_id` between two UTC days (inclusive), sorted: the
    exact counts and the distinct people of each cell (the k-threshold mode's input).

    Synchronous, for `Database.read_off_loop`: over millions of events this scan takes
    seconds. The covering index `ix_share_events_cell` holds every column it reads, in
    GROUP BY order, so it never touches the table.
    """
    e = ShareEvent
    is_send = e.kind == ShareEvent.SEND
    stmt = (
        select(
            e.day,
            e.interface,
            e.surface,
            e.variant,
            func.sum(case((is_send, 1), else_=0)).label("sends"),
            func.sum(case((is_send, e.recipients), else_=0)).label("recipients"),
            func.sum(case((e.kind == ShareEvent.FIRST_CLICK, 1), else_=0)).label("first"),
            func.sum(case((e.kind == ShareEvent.REPEAT_CLICK, 1), else_=0)).label("repeat"),
            func.count(distinct(e.person)).label("people"),
        )
        .where(e.client_id == client_id, e.day >= first_day, e.day <= last_day)
        .group_by(e.day, e.interface, e.surface, e.variant)
        .order_by(e.day, e.interface, e.surface, e.variant)
    )
    return _cells(conn.execute(stmt), with_people=True)


def aggregate_bounded(
    conn: Connection,
    client_id: str,
    first_day: str,
    last_day: str,
    *,
    per_person: int,
    recipients_cap: int,
) -> list[CellCounts]:
    """The cells of the differential-privacy mode: each person's contribution bounded.

    Of each person's actions in the period, only the first `per_person` cards they sent
    and their first `per_person` clicks (first or repeat) count, in the order (day,
    interface, surface, variant, kind, recipients), whatever cells they fall in; a card
    counts at most `recipients_cap` recipients. Removing one person therefore changes the
    release by at most `per_person` sends and clicks and `per_person * recipients_cap`
    recipients: the sensitivity `privacy.DPPlan` calibrates the noise to. The order is
    total on everything counted, so the result is the same on both engines (byte order
    on PostgreSQL too, whatever the database's collation). `people` is not computed (0):
    it only serves the k threshold.

    One statement: the exact cells (the range scan of `aggregate`, streamed in index order)
    minus the actions over the bound, found by a row_number() per person over a second
    scan of the same covering index; only that ranking sorts (by person), and only the
    dropped actions are grouped again. Restricting the ranking to the people over the
    bound (a GROUP BY person feeding an IN) was faster on an analysed table but PostgreSQL
    plans it as a nested loop over a freshly loaded one (quadratic), so it is not used
    (`docs/benchmarks.md`).
    """
    pg = conn.dialect.name == "postgresql"
    stmt = bounded_statement(pg, client_id, first_day, last_day, per_person, recipients_cap)
    return _cells(conn.execute(stmt), with_people=False)


# Any: rows of either aggregate's labelled columns, read by name.
def _cells(rows: Iterable[Row[Any]], *, with_people: bool) -> list[CellCounts]:
    """Rows of either aggregate as `CellCounts` (`people` is 0 where it was not counted)."""
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
            int(r.people) if with_people else 0,
        )
        for r in rows
    ]


def bounded_statement(
    pg: bool, client_id: str, first_day: str, last_day: str, per_person: int, recipients_cap: int
) -> Select[tuple[Any, ...]]:  # Any: labelled aggregate columns, read by name
    """The statement of `aggregate_bounded` (apart so that `bench/reports.py` can EXPLAIN it)."""
    e = ShareEvent
    is_send = e.kind == ShareEvent.SEND
    in_range = (e.client_id == client_id, e.day >= first_day, e.day <= last_day)
    # SQLite's two-argument min() is PostgreSQL's least().
    capped = (func.least if pg else func.min)(e.recipients, recipients_cap)
    labels = (e.day, e.interface, e.surface, e.variant)
    rank = func.row_number().over(
        partition_by=(e.person, is_send),
        order_by=(*(c.collate("C") if pg else c for c in labels), e.kind, e.recipients),
    )
    ranked = (
        select(*labels, e.kind, capped.label("recipients"), rank.label("n"))
        .where(*in_range)
        .subquery("ranked")
    )
    exact = select(*labels, e.kind, capped.label("recipients")).where(*in_range).subquery("exact")
    dropped = (
        select(*(ranked.c[c.key] for c in labels), ranked.c.kind, ranked.c.recipients)
        .where(ranked.c.n > per_person)
        .subquery("dropped")
    )
    both = union_all(_cell_sums(exact, 1), _cell_sums(dropped, -1)).subquery("both")
    keys = [both.c[c.key] for c in labels]
    return (
        select(
            *keys,
            func.sum(both.c.sends).label("sends"),
            func.sum(both.c.recipients).label("recipients"),
            func.sum(both.c.first).label("first"),
            func.sum(both.c.repeat).label("repeat"),
        )
        .group_by(*keys)
        .order_by(*keys)
    )


def _cell_sums(actions: Subquery, sign: int) -> Select[tuple[Any, ...]]:  # Any: as above
    """Per cell, `sign` times the counts of `actions` (day, labels, kind, recipients)."""
    a = actions.c
    send = a.kind == ShareEvent.SEND
    keys = (a.day, a.interface, a.surface, a.variant)
    return select(
        *keys,
        (sign * func.sum(case((send, 1), else_=0))).label("sends"),
        (sign * func.sum(case((send, a.recipients), else_=0))).label("recipients"),
        (sign * func.sum(case((a.kind == ShareEvent.FIRST_CLICK, 1), else_=0))).label("first"),
        (sign * func.sum(case((a.kind == ShareEvent.REPEAT_CLICK, 1), else_=0))).label("repeat"),
    ).group_by(*keys)


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
