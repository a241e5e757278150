"""The webhook delivery worker: signs reports per Standard Webhooks, sends, retries, records.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
The `webhook-id` (the delivery id) stays the same across retries: it is the receiver's
idempotency key. Every attempt, successful or not, is a row the partner sees in the portal.
No database transaction is open during an HTTP request: a claim leases the row (see
`delivery_repository`), the request runs, and the outcome is recorded in a second transaction.
The signing itself is the `standardwebhooks` library's (one module wraps it: this one).

The URL is checked again at send time, and the connection goes only to a checked public
address (`outbound`). What an attempt records, and the portal shows the partner, is a
generic reason ("connection failed", "timed out after 15 s", the HTTP status): exception
text could tell a partner about the operator's network, so it goes to the server log only.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from candor.core.clock import Clock
from candor.core.outbound import (
    AddressRefused,
    LazyClient,
    Resolver,
    post_guarded,
    system_resolve,
)
from candor.core.urls import UrlRefused, check_webhook_url
from candor.reports import delivery_repository as repo
from candor.reports.delivery_repository import DELIVERED, FAILED, PENDING, Delivery
from candor.reports.webhook_secrets import UnsealError, unseal
from candor.store.db import Database

logger = logging.getLogger(__name__)

# The spec's suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
# Entry i is the wait before attempt i+1, counted from attempt i.
DEFAULT_SCHEDULE: tuple[int, ...] = (
    0,
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
)
EVENT_TYPE = "report.created"
MAX_ERROR_CHARS = 500
CLAIM_BATCH = 16
CONNECTION_FAILED = "connection failed"
NO_HTTP_ANSWER = "no valid HTTP answer"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to, before it is recorded."""

    url: str
    status_code: int | None
    error: str | None
    duration_ms: int
    final: bool = False  # no retry can help (no URL, no secret): fail now

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks request headers for `body` sent at `timestamp` (unix seconds)."""
    when = datetime.fromtimestamp(timestamp, UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode("utf-8"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def build_payload(event_ts_ms: int, report_body: str, signature_doc: str) -> bytes:
    """The event body: `{"type", "timestamp", "data": {"report", "signature"}}`, compact.

    The stored report and signature are spliced in as stored, not decoded and re-encoded:
    the report's Ed25519 signature covers its exact canonical bytes, and splicing keeps them
    byte for byte. `timestamp` is when the event happened (the enqueue), so every retry
    carries the same body.
    """
    when = datetime.fromtimestamp(event_ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    stamp = when[:-3] + "Z"  # milliseconds
    head = f'{{"type":"{EVENT_TYPE}","timestamp":"{stamp}","data":{{"report":'
    return (
        head.encode("utf-8")
        + report_body.encode("utf-8")
        + b',"signature":'
        + signature_doc.encode("utf-8")
        + b"}}"
    )


def _bounded(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[secret]")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class DeliveryWorker:
    """Delivers due reports; one per process, started and stopped with the app.

    Several workers (processes) may share a PostgreSQL database: claims skip locked rows
    and leases keep rows apart. Tests call `run_once` directly with a `FakeClock`.
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        token_key: bytes,
        allow_private_networks: bool,
        retry_schedule_ms: Sequence[int] = DEFAULT_SCHEDULE,
        poll_interval_s: float = 5.0,
        timeout_s: float = 15.0,
        resolve: Resolver = system_resolve,
    ) -> None:
        schedule = tuple(retry_schedule_ms)
        if not schedule or any(d < 0 for d in schedule):
            raise ValueError("the retry schedule needs at least one non-negative delay")
        if schedule[0] != 0:
            raise ValueError("the first attempt is immediate: the schedule must start at 0")
        self._db = db
        self._clock = clock
        self._token_key = token_key
        self._allow_private = allow_private_networks
        self._resolve = resolve
        self._schedule = schedule
        self._poll_interval_s = poll_interval_s
        self._timeout_s = timeout_s
        # The lease outlives the longest request, so a live worker never loses its row.
        self._lease_ms = int(timeout_s * 1000) * 2 + 30_000
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="report-deliveries")

    async def stop(self) -> None:
        """Stop polling; an attempt in flight is cancelled and its lease lets it retry later."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def wake(self) -> None:
        """Deliver now rather than at the next poll (call after the enqueue committed)."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.run_once()
            except Exception:  # a database outage must not end the worker; next poll retries
                logger.exception("report delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            self._wake.clear()

    async def run_once(self) -> int:
        """Attempt every delivery due now; returns the number of attempts recorded."""
        made = 0
        async with LazyClient(self._timeout_s) as client:
            while True:
                now = self._clock.now_ms()
                async with self._db.write() as conn:
                    batch = await repo.claim_due(conn, now, self._lease_ms, CLAIM_BATCH)
                results = await asyncio.gather(*(self._attempt(client.get(), d) for d in batch))
                made += sum(results)
                if len(batch) < CLAIM_BATCH:
                    return made

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> bool:
        ts = self._clock.now_ms()
        async with self._db.read() as conn:
            target = await repo.get_webhook_target(conn, delivery.client_id)
            document = await repo.get_report_document(conn, delivery.report_id)
        outcome = await self._send(client, delivery, ts, target, document)
        return await self._record(delivery, ts, outcome)

    async def _send(
        self,
        client: httpx.AsyncClient,
        delivery: Delivery,
        ts: int,
        target: repo.WebhookTarget | None,
        document: repo.ReportDocument | None,
    ) -> Outcome:
        if target is None:
            return Outcome(delivery.url, None, "the app no longer exists", 0, final=True)
        if target.url is None:
            return Outcome(delivery.url, None, "the app's webhook URL was removed", 0, final=True)
        url = target.url  # the current URL, even if it changed since the enqueue
        try:
            checked = check_webhook_url(url, allow_private_networks=self._allow_private)
        except UrlRefused as exc:
            return Outcome(url, None, exc.message, 0, final=True)
        if document is None:
            return Outcome(url, None, "the report no longer exists", 0, final=True)
        if target.secret_sealed is None:
            return Outcome(url, None, "the app has no webhook signing secret", 0, final=True)
        try:
            secret = unseal(target.secret_sealed, self._token_key)
        except UnsealError as exc:
            logger.error("webhook secret of %s does not unseal", delivery.client_id)
            return Outcome(url, None, str(exc), 0, final=True)
        body = build_payload(delivery.created_ts, document.body, document.signature)
        headers = sign_headers(secret, delivery.delivery_id, ts // 1000, body)
        # Real elapsed time for the portal; a FakeClock cannot measure a network call.
        started = time.perf_counter()
        code: int | None = None
        error: str | None
        try:
            async with asyncio.timeout(self._timeout_s):
                code, _ = await post_guarded(
                    client,
                    checked,
                    body,
                    headers,
                    resolve=self._resolve,
                    allow_private_networks=self._allow_private,
                )
            error = "redirects are not followed" if 300 <= code < 400 else None
        except (TimeoutError, httpx.TimeoutException):
            error = f"timed out after {self._timeout_s:g} s"
        except (AddressRefused, httpx.ConnectError) as exc:
            logger.info("delivery %s: connection failed: %s", delivery.delivery_id, exc)
            error = CONNECTION_FAILED
        except httpx.HTTPError as exc:
            logger.info("delivery %s: %s: %s", delivery.delivery_id, type(exc).__name__, exc)
            error = NO_HTTP_ANSWER
        duration_ms = int((time.perf_counter() - started) * 1000)
        error = None if error is None else _bounded(error, secret)
        return Outcome(url, code, error, duration_ms)

    async def _record(self, delivery: Delivery, ts: int, outcome: Outcome) -> bool:
        attempt = delivery.attempts + 1
        if outcome.ok:
            status, next_ts = DELIVERED, ts
        elif outcome.final or attempt >= len(self._schedule):
            status, next_ts = FAILED, ts
        else:
            status, next_ts = PENDING, self._clock.now_ms() + self._schedule[attempt]
        async with self._db.write() as conn:
            recorded = await repo.record_attempt(
                conn,
                delivery_id=delivery.delivery_id,
                attempt=attempt,
                ts=ts,
                url=outcome.url,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                status=status,
                next_attempt_ts=next_ts,
            )
        if not recorded:
            logger.warning(
                "delivery %s attempt %d was recorded elsewhere", delivery.delivery_id, attempt
            )
        elif status != PENDING:
            logger.info("delivery %s %s after %d attempts", delivery.delivery_id, status, attempt)
        return recorded
