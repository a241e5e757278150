"""SQL for the webhook delivery queue: enqueue, claim with a lease, record each attempt.

The queue lives in `report_deliveries` so a restart resumes it. A claim pushes the row's
`next_attempt_ts` forward by a lease instead of holding a lock across the HTTP call: another
worker (or this one after a crash) takes the row again only once the lease has run out.
`record_attempt` is a compare-and-set on `attempts`, and the attempt table's primary key
(delivery_id, attempt) closes the last race, so one attempt number is never recorded twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.partners import PartnerApp
from candor.store.models.reports import Report, ReportDelivery, ReportDeliveryAttempt

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One report's delivery as the worker and the portal see it."""

    delivery_id: str
    report_id: str
    client_id: str
    url: str
    status: str
    attempts: int
    next_attempt_ts: int
    created_ts: int
    delivered_ts: int | None


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: str
    attempt: int
    ts: int
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """The app's webhook as it is now (the URL may have changed since the enqueue)."""

    url: str | None
    secret_sealed: str | None


@dataclass(frozen=True, slots=True)
class ReportDocument:
    body: str  # canonical JSON, exactly as signed
    signature: str  # the detached signature document (JSON text)


_DELIVERY_COLUMNS = (
    ReportDelivery.delivery_id,
    ReportDelivery.report_id,
    ReportDelivery.client_id,
    ReportDelivery.url,
    ReportDelivery.status,
    ReportDelivery.attempts,
    ReportDelivery.next_attempt_ts,
    ReportDelivery.created_ts,
    ReportDelivery.delivered_ts,
)

_ATTEMPT_COLUMNS = (
    ReportDeliveryAttempt.delivery_id,
    ReportDeliveryAttempt.attempt,
    ReportDeliveryAttempt.ts,
    ReportDeliveryAttempt.status_code,
    ReportDeliveryAttempt.error,
    ReportDeliveryAttempt.duration_ms,
)


async def enqueue(
    conn: AsyncConnection,
    *,
    delivery_id: str,
    report_id: str,
    client_id: str,
    url: str,
    now_ms: int,
) -> None:
    """Queue a report for delivery, due at once; the caller's transaction makes it durable."""
    await conn.execute(
        insert(ReportDelivery).values(
            delivery_id=delivery_id,
            report_id=report_id,
            client_id=client_id,
            url=url,
            status=PENDING,
            attempts=0,
            next_attempt_ts=now_ms,
            created_ts=now_ms,
            delivered_ts=None,
        )
    )


async def claim_due(
    conn: AsyncConnection, now_ms: int, lease_ms: int, limit: int
) -> list[Delivery]:
    """Take up to `limit` pending deliveries that are due, leasing them for `lease_ms`.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent workers take disjoint rows; on
    SQLite the process-wide write lock serialises claims. The lease (not the row lock)
    is what keeps a row away from others while its HTTP request runs.
    """
    stmt = (
        select(*_DELIVERY_COLUMNS)
        .where(ReportDelivery.status == PENDING, ReportDelivery.next_attempt_ts <= now_ms)
        .order_by(ReportDelivery.next_attempt_ts, ReportDelivery.delivery_id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = (await conn.execute(stmt)).all()
    if not rows:
        return []
    await conn.execute(
        update(ReportDelivery)
        .where(ReportDelivery.delivery_id.in_([r.delivery_id for r in rows]))
        .values(next_attempt_ts=now_ms + lease_ms)
    )
    return [Delivery(*r) for r in rows]


async def record_attempt(
    conn: AsyncConnection,
    *,
    delivery_id: str,
    attempt: int,
    ts: int,
    url: str,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    status: str,
    next_attempt_ts: int,
) -> bool:
    """Record attempt number `attempt` (1-based) and the delivery's new state.

    Returns False, writing nothing, when the delivery is no longer pending at
    `attempt - 1` attempts: another worker recorded this attempt after our lease ran out.
    """
    result = await conn.execute(
        update(ReportDelivery)
        .where(
            ReportDelivery.delivery_id == delivery_id,
            ReportDelivery.status == PENDING,
            ReportDelivery.attempts == attempt - 1,
        )
        .values(
            attempts=attempt,
            url=url,
            status=status,
            next_attempt_ts=next_attempt_ts,
            delivered_ts=ts if status == DELIVERED else None,
        )
    )
    if result.rowcount != 1:
        return False
    await conn.execute(
        insert(ReportDeliveryAttempt).values(
            delivery_id=delivery_id,
            attempt=attempt,
            ts=ts,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
    )
    return True


async def get_delivery(conn: AsyncConnection, delivery_id: str) -> Delivery | None:
    row = (
        await conn.execute(
            select(*_DELIVERY_COLUMNS).where(ReportDelivery.delivery_id == delivery_id)
        )
    ).first()
    return None if row is None else Delivery(*row)


async def list_deliveries(
    conn: AsyncConnection, client_id: str, limit: int | None = None
) -> Sequence[Delivery]:
    """An app's deliveries, newest first, for the portal."""
    stmt = (
        select(*_DELIVERY_COLUMNS)
        .where(ReportDelivery.client_id == client_id)
        .order_by(ReportDelivery.created_ts.desc(), ReportDelivery.delivery_id)
    )
    rows = await conn.execute(stmt if limit is None else stmt.limit(limit))
    return [Delivery(*r) for r in rows]


async def list_attempts(conn: AsyncConnection, delivery_id: str) -> Sequence[Attempt]:
    """Every attempt of one delivery, in order."""
    rows = await conn.execute(
        select(*_ATTEMPT_COLUMNS)
        .where(ReportDeliveryAttempt.delivery_id == delivery_id)
        .order_by(ReportDeliveryAttempt.attempt)
    )
    return [Attempt(*r) for r in rows]


async def list_deliveries_with_attempts(
    conn: AsyncConnection, client_id: str, limit: int
) -> list[tuple[Delivery, list[Attempt]]]:
    """The app's newest deliveries, each with every attempt in order (two queries, not N+1)."""
    deliveries = await list_deliveries(conn, client_id, limit)
    if not deliveries:
        return []
    attempts: dict[str, list[Attempt]] = {d.delivery_id: [] for d in deliveries}
    a = ReportDeliveryAttempt
    found = await conn.execute(
        select(*_ATTEMPT_COLUMNS)
        .where(a.delivery_id.in_(list(attempts)))
        .order_by(a.delivery_id, a.attempt)
    )
    for r in found:
        attempts[r.delivery_id].append(Attempt(*r))
    return [(d, attempts[d.delivery_id]) for d in deliveries]


async def get_webhook_target(conn: AsyncConnection, client_id: str) -> WebhookTarget | None:
    """The app's current webhook URL and sealed secret; None if the app is gone."""
    row = (
        await conn.execute(
            select(PartnerApp.webhook_url, PartnerApp.webhook_secret_sealed).where(
                PartnerApp.client_id == client_id
            )
        )
    ).first()
    return None if row is None else WebhookTarget(row.webhook_url, row.webhook_secret_sealed)


async def get_report_document(conn: AsyncConnection, report_id: str) -> ReportDocument | None:
    row = (
        await conn.execute(
            select(Report.body, Report.signature).where(Report.report_id == report_id)
        )
    ).first()
    return None if row is None else ReportDocument(row.body, row.signature)
