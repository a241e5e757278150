"""Producing engagement reports: aggregate ▸ privacy ▸ document ▸ sign ▸ store ▸ enqueue.

A report is produced at most once per (app, period): the unique key in `reports` decides
between two workers, and a re-run returns the stored bytes. In DP mode that is what keeps
a re-run from leaking more: the noise is drawn once, and the ε ledger (the sum of `epsilon`
over the app's reports) is checked and extended in the same transaction as the insert,
under a per-app lock on PostgreSQL (SQLite has one writer).
"""

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from candor.core.canonical_json import decode_dict
from candor.core.clock import Clock
from candor.core.tokens import random_string
from candor.partners.apps.service import App, PartnerAppsService
from candor.reports import delivery_repository as deliveries
from candor.reports import document
from candor.reports import repository as repo
from candor.reports.aggregate import full_grid
from candor.reports.document import ReportDocument
from candor.reports.errors import (
    ReportError,
    budget_exhausted,
    period_not_over,
    report_not_found,
)
from candor.reports.periods import Period, due, ending_on, last_complete
from candor.reports.privacy import (
    DIFFERENTIAL_PRIVACY,
    DPPlan,
    Noise,
    differential_privacy,
    k_threshold,
    opendp_noise,
)
from candor.reports.sign import canonical, sign
from candor.store.db import Database
from candor.transparency.note import Signer


@dataclass(frozen=True, slots=True)
class StoredReport:
    report_id: str
    client_id: str
    period: Period
    privacy: str
    epsilon: float | None
    created_ts: int
    body: bytes  # canonical JSON, exactly as signed
    signature: Mapping[str, object]

    @property
    def document(self) -> ReportDocument:
        return decode_dict(self.body)

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, Any],  # Any: a store row, whose values only its columns type
    ) -> "StoredReport":
        return cls(
            report_id=str(row["report_id"]),
            client_id=str(row["client_id"]),
            period=Period(
                date.fromisoformat(str(row["period_start"])),
                date.fromisoformat(str(row["period_end"])),
            ),
            privacy=str(row["privacy"]),
            epsilon=None if row["epsilon"] is None else float(row["epsilon"]),
            created_ts=int(row["created_ts"]),
            body=str(row["body"]).encode(),
            signature=decode_dict(str(row["signature"])),
        )


def _lock_key(client_id: str) -> int:
    return 0x5245_0000_0000 + zlib.crc32(client_id.encode())


class ReportsService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        apps: PartnerAppsService,
        signer: Signer,
        issuer: str,
        epsilon_budget: float,
        noise: Noise = opendp_noise,
    ) -> None:
        """`issuer` (the server name) and `signer` (the transparency log's key) sign each
        report; `epsilon_budget` caps the ε an app's DP reports may spend in all."""
        self._db = db
        self._clock = clock
        self._apps = apps
        self._signer = signer
        self._issuer = issuer
        self._epsilon_budget = epsilon_budget
        self._noise = noise

    def today(self) -> date:
        return datetime.fromtimestamp(self._clock.now_ms() / 1000, UTC).date()

    def period_for(self, app: App, period_end: date | None) -> Period:
        days = app.agreement.reporting_days
        if period_end is None:
            return last_complete(self.today(), days)
        try:
            return ending_on(period_end, days)
        except OverflowError:
            raise ReportError(
                400, "CANDOR_INVALID_PARAM", "The period would start before the calendar does"
            ) from None

    async def produce(self, client_id: str, period_end: date | None = None) -> StoredReport:
        """The app's report for the period ending `period_end` (default: the last complete
        aligned period), made now or, if it exists, as it was made."""
        app = await self._apps.get(client_id)
        period = self.period_for(app, period_end)
        if period.end >= self.today():
            raise period_not_over(period.end.isoformat())
        async with self._db.read() as conn:
            existing = await repo.get_report(
                conn, client_id, period.start.isoformat(), period.end.isoformat()
            )
        if existing is not None:
            return StoredReport.from_row(existing)
        try:
            return await self._make(app, period)
        except IntegrityError:
            # Another worker made it between our check and our insert: use theirs.
            async with self._db.read() as conn:
                row = await repo.get_report(
                    conn, client_id, period.start.isoformat(), period.end.isoformat()
                )
            if row is None:  # pragma: no cover - the conflict was not on the period key
                raise
            return StoredReport.from_row(row)

    async def _make(self, app: App, period: Period) -> StoredReport:
        agreement = app.agreement
        dp_mode = agreement.privacy == DIFFERENTIAL_PRIVACY
        plan = (
            DPPlan.for_epsilon(agreement.epsilon or 1.0, agreement.contribution_bound)
            if dp_mode
            else None
        )
        first, last = period.start.isoformat(), period.end.isoformat()
        if plan is None:
            read = functools.partial(
                repo.aggregate, client_id=app.client_id, first_day=first, last_day=last
            )
        else:
            read = functools.partial(
                repo.aggregate_bounded,
                client_id=app.client_id,
                first_day=first,
                last_day=last,
                per_person=plan.contribution_bound,
                recipients_cap=plan.recipients_cap,
            )
        cells = await self._db.read_off_loop(read)
        now = self._clock.now_ms()
        report_id = "rpt_" + random_string(20)
        info = document.AppInfo(app.client_id, app.name, agreement.version)
        generated_at = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        budget = self._epsilon_budget
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _lock_key(app.client_id))
            # Another worker may have made this period while we waited for the lock: use
            # theirs, before the ledger (which now counts their ε) could refuse ours.
            made = await repo.get_report(conn, app.client_id, first, last)
            if made is not None:
                return StoredReport.from_row(made)
            if plan is not None:
                spent = await repo.epsilon_spent(conn, app.client_id)
                if spent + plan.epsilon > budget * (1 + 1e-9):
                    raise budget_exhausted(spent, plan.epsilon, budget)
                rows = differential_privacy(full_grid(cells, period.day_list()), plan, self._noise)
                privacy = document.dp_privacy(plan, budget, round(spent + plan.epsilon, 9))
            else:
                rows = k_threshold(cells, agreement.k_threshold)
                privacy = document.k_threshold_privacy(agreement.k_threshold, rows)
            doc = document.build(
                report_id=report_id,
                issuer=self._issuer,
                app=info,
                period=period,
                generated_at=generated_at,
                privacy=privacy,
                rows=rows,
            )
            body = canonical(doc)
            signature = sign(doc, self._signer)
            stored = StoredReport(
                report_id,
                app.client_id,
                period,
                agreement.privacy,
                plan.epsilon if plan else None,
                now,
                body,
                signature,
            )
            await repo.add_report(
                conn,
                {
                    "report_id": report_id,
                    "client_id": app.client_id,
                    "period_start": first,
                    "period_end": last,
                    "agreement_version": agreement.version,
                    "privacy": agreement.privacy,
                    "epsilon": stored.epsilon,
                    "body": body.decode(),
                    "signature": canonical(signature).decode(),
                    "created_ts": now,
                },
            )
            if app.webhook_url:
                await deliveries.enqueue(
                    conn,
                    delivery_id="msg_" + random_string(24),
                    report_id=report_id,
                    client_id=app.client_id,
                    url=app.webhook_url,
                    now_ms=now,
                )
        return stored

    async def due(self) -> list[tuple[App, Period]]:
        """Every approved app's ended periods that have no report yet, oldest first.

        Periods start counting from the day the app was registered, so a new app is not
        sent a backlog of empty reports.
        """
        today = self.today()
        apps = await self._apps.list_approved()
        async with self._db.read() as conn:
            made = await repo.made_periods(conn, [a.client_id for a in apps])
        out: list[tuple[App, Period]] = []
        for app in apps:
            since = datetime.fromtimestamp(app.created_ts / 1000, UTC).date()
            out.extend(
                (app, p)
                for p in due(today, app.agreement.reporting_days, since)
                if (app.client_id, p.start.isoformat(), p.end.isoformat()) not in made
            )
        return out

    async def get(self, report_id: str) -> StoredReport:
        if not report_id.startswith("rpt_") or len(report_id) > 64:
            raise report_not_found()
        async with self._db.read() as conn:
            row = await repo.get_report_by_id(conn, report_id)
        if row is None:
            raise report_not_found()
        return StoredReport.from_row(row)

    async def list_for_app(self, client_id: str) -> list[StoredReport]:
        async with self._db.read() as conn:
            rows = await repo.list_reports(conn, client_id)
        return [StoredReport.from_row(r) for r in rows]

    async def app(self, client_id: str) -> App:
        return await self._apps.get(client_id)

    async def approved_apps(self) -> list[App]:
        return await self._apps.list_approved()
