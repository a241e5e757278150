"""What the report pages show: an app owner's reports, files and webhook deliveries, and a
person's shares next to what the partner was told about them.

Every portal read goes through `PartnerAppsService.get_owned` first, so only the app's owner
sees its reports (403 for others, 404 for an unknown app). A report file asked for by
anyone but the owner of its app is 404, the same as a missing one, so report ids leak
nothing. A person sees only their own shares, and of each report only the rows of the
cells (day, interface, surface, variant) their shares were counted in.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio.to_thread

from candor.core.urls import UrlRefused, check_webhook_url
from candor.partners.apps.service import App, PartnerAppsService
from candor.reports import delivery_repository as deliveries
from candor.reports import views_repository as repo
from candor.reports.delivery_repository import Attempt, Delivery
from candor.reports.document import ReportDocument
from candor.reports.errors import ReportError, report_not_found
from candor.reports.render import to_csv, to_html, to_pdf
from candor.reports.service import ReportsService, StoredReport
from candor.reports.sign import canonical
from candor.reports.webhook_secrets import new_webhook_secret, seal
from candor.store.db import Database

FORMATS: dict[str, str] = {
    "json": "application/json",
    "sig": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
CELL = ("day", "interface", "surface", "variant")

MAX_DELIVERIES = 50  # the portal shows the newest


@dataclass(frozen=True, slots=True)
class ReportSummary:
    report_id: str
    period_start: str
    period_end: str
    method: str
    rows: int
    suppressed: int
    created_ts: int


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: Delivery
    attempts: list[Attempt]


@dataclass(frozen=True, slots=True)
class PortalReports:
    app: App
    reports: list[ReportSummary]
    deliveries: list[DeliveryView]


@dataclass(frozen=True, slots=True)
class ReportExcerpt:
    """One report's rows for the cells a person's shares were in."""

    report_id: str
    app_name: str
    period_start: str
    period_end: str
    method: str
    statement: str
    rows: list[ReportDocument]
    # The report's privacy block as the app received it (k, ε, …), for the page's wording.
    privacy: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class MyShares:
    shares: list[repo.ShareCounts]
    reports: list[ReportExcerpt]


def bad_webhook_url(reason: str) -> ReportError:
    return ReportError(400, "CANDOR_INVALID_PARAM", reason[0].upper() + reason[1:] + ".")


def _summary(report: StoredReport) -> ReportSummary:
    doc = report.document
    rows = doc.get("rows") or []
    privacy = doc.get("privacy") or {}
    return ReportSummary(
        report.report_id,
        report.period.start.isoformat(),
        report.period.end.isoformat(),
        str(privacy.get("method", report.privacy)),
        len(rows),
        sum(1 for r in rows if r.get("suppressed")),
        report.created_ts,
    )


def _cell(row: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(str(row.get(k)) for k in CELL)


def matching_rows(doc: ReportDocument, shares: Sequence[repo.ShareCounts]) -> list[ReportDocument]:
    """The report's rows whose cell is one of the shares' cells (same app), in report order."""
    client_id = (doc.get("app") or {}).get("client_id")
    cells = {(s.day, s.interface, s.surface, s.variant) for s in shares if s.client_id == client_id}
    return [r for r in doc.get("rows") or [] if _cell(r) in cells]


class ReportViews:
    def __init__(
        self,
        *,
        db: Database,
        token_key: bytes,
        allow_private_webhooks: bool,
        apps: PartnerAppsService,
        reports: ReportsService,
    ) -> None:
        self._db = db
        self._token_key = token_key
        self._allow_private_webhooks = allow_private_webhooks
        self._apps = apps
        self._reports = reports

    async def portal_reports(self, owner: str, client_id: str) -> list[ReportSummary]:
        """The app's reports, newest period first; only for the app's owner."""
        await self._apps.get_owned(client_id, owner)
        return await self._summaries(client_id)

    async def deliveries(self, owner: str, client_id: str) -> list[DeliveryView]:
        """The app's newest webhook deliveries, each with every attempt; owner only."""
        await self._apps.get_owned(client_id, owner)
        return await self._deliveries(client_id)

    async def portal_page(self, owner: str, client_id: str) -> PortalReports:
        """Everything the portal's reports page shows, after one ownership check."""
        app = await self._apps.get_owned(client_id, owner)
        return PortalReports(
            app, await self._summaries(client_id), await self._deliveries(client_id)
        )

    async def _summaries(self, client_id: str) -> list[ReportSummary]:
        return [_summary(r) for r in await self._reports.list_for_app(client_id)]

    async def _deliveries(self, client_id: str) -> list[DeliveryView]:
        async with self._db.read() as conn:
            found = await deliveries.list_deliveries_with_attempts(conn, client_id, MAX_DELIVERIES)
        return [DeliveryView(d, a) for d, a in found]

    async def report_file(self, owner: str, report_id: str, fmt: str) -> tuple[bytes, str, str]:
        """(bytes, media type, file name) of one report in `fmt`; 404 unless `owner` owns
        the report's app, so a guessed id tells nothing.

        JSON is the stored canonical body byte for byte (what the signature covers); the PDF
        is printed in a worker thread, since WeasyPrint would block the event loop.
        """
        if fmt not in FORMATS:
            raise report_not_found()
        report = await self._reports.get(report_id)
        app = await self._apps.find(report.client_id)
        if app is None or app.owner_user_id != owner:
            raise report_not_found()
        name = f"{report.report_id}.json"
        if fmt == "json":
            return report.body, FORMATS[fmt], name
        if fmt == "sig":
            return canonical(report.signature), FORMATS[fmt], name + ".sig"
        doc = report.document
        stem = report.report_id
        if fmt == "csv":
            return to_csv(doc).encode(), FORMATS[fmt], stem + ".csv"
        if fmt == "html":
            return to_html(doc, report.signature).encode(), FORMATS[fmt], stem + ".html"
        pdf = await anyio.to_thread.run_sync(to_pdf, doc, report.signature)
        return pdf, FORMATS[fmt], stem + ".pdf"

    async def set_webhook(self, owner: str | None, client_id: str, url: str | None) -> str | None:
        """Set (or, with None or blank, clear) the app's webhook URL; owner only (the
        operator's CLI passes no owner).

        A new URL always gets a new signing secret, returned here to be shown once: only its
        sealed form is stored (see `webhook_secrets`), so it can never be shown again.
        Clearing the URL clears the secret too. A refused URL changes nothing; an accepted
        one is stored as a browser serialises it (`core.urls`).
        """
        await (
            self._apps.get(client_id) if owner is None else self._apps.get_owned(client_id, owner)
        )
        url = (url or "").strip() or None
        secret: str | None = None
        sealed: str | None = None
        if url is not None:
            try:
                url = check_webhook_url(
                    url, allow_private_networks=self._allow_private_webhooks
                ).href
            except UrlRefused as exc:
                raise bad_webhook_url(exc.message) from None
            secret = new_webhook_secret()
            sealed = seal(secret, self._token_key)
        async with self._db.write() as conn:
            await repo.set_webhook(conn, client_id, url, sealed)
        return secret

    async def my_shares(self, user_id: str) -> MyShares:
        """The person's shares, and for every report covering one of their share days the
        rows of the cells their shares were in (suppressed rows included, as suppressed)."""
        async with self._db.read() as conn:
            shares = await repo.list_shares_of(conn, user_id)
            days: dict[str, list[str]] = {}
            for s in shares:
                days.setdefault(s.client_id, []).append(s.day)
            rows = await repo.list_reports_covering(conn, days)
        excerpts: list[ReportExcerpt] = []
        for row in rows:
            report = StoredReport.from_row(row)
            doc = report.document
            matched = matching_rows(doc, shares)
            if not matched:
                continue
            privacy = doc.get("privacy") or {}
            excerpts.append(
                ReportExcerpt(
                    report.report_id,
                    str((doc.get("app") or {}).get("name", report.client_id)),
                    report.period.start.isoformat(),
                    report.period.end.isoformat(),
                    str(privacy.get("method", report.privacy)),
                    str(privacy.get("statement", "")),
                    matched,
                    dict(privacy),
                )
            )
        return MyShares(shares, excerpts)
