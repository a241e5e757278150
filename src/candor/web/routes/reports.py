"""The partner portal's report pages: an app's reports and their files, its webhook, and
every delivery attempt.

`GET /partners/portal/apps/{client_id}/reports` lists the reports (download links in every
format), the webhook form and the deliveries; `POST …/webhook` sets or clears the URL and
redirects (303) back to the reports page, which shows the new signing secret once (handed
over in a one-time sealed cookie, `web/once.py`: a reload makes no new secret and shows
it no more); `GET /partners/portal/reports/{id}.{fmt}`
downloads one report. Only the app's owner gets any of it (see `ReportViews`).
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.reports.errors import ReportError
from candor.reports.views import FORMATS, ReportViews
from candor.web import once
from candor.web.forms import read_form
from candor.web.pages import CurrentUserDep, Page, PageDep, WebUser

router = APIRouter(include_in_schema=False)

# The report page's own policy: it carries its CSS inline (it must stand alone as a file),
# so it may style itself but load, run and submit nothing.
REPORT_HTML_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; form-action 'none'"
)


ViewsDep = Annotated[ReportViews, Depends(Provided(ReportViews))]
ClientIdParam = Annotated[str, Path(min_length=1, max_length=64)]
ReportIdParam = Annotated[str, Path(min_length=1, max_length=64)]
FormatParam = Annotated[str, Path(min_length=1, max_length=8)]


def utc(ts_ms: int | None) -> str:
    """A timestamp as people read it on the page (UTC, to the second)."""
    if ts_ms is None:
        return ""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def _page(
    page: Page,
    user: WebUser,
    views: ReportViews,
    client_id: str,
    *,
    secret: str | None = None,
    saved: bool = False,
    error: str | None = None,
    url: str | None = None,
    status: int = 200,
) -> Response:
    found = await views.portal_page(user.user_id, client_id)
    return page.render(
        "reports/portal.html",
        status=status,
        app=found.app,
        reports=found.reports,
        deliveries=found.deliveries,
        formats=list(FORMATS),
        utc=utc,
        secret=secret,
        saved=saved,
        error=error,
        webhook_value=(found.app.webhook_url or "") if url is None else url,
    )


WEBHOOK_SECRET = "webhook-secret"  # noqa: S105 - the kind of one-time hand-over, not a secret


def reports_path(client_id: str) -> str:
    return f"/partners/portal/apps/{client_id}/reports"


@router.get("/partners/portal/apps/{client_id}/reports")
async def reports_page(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, views: ViewsDep
) -> Response:
    secret = once.take(page, kind=WEBHOOK_SECRET, subject=client_id)
    saved = page.request.query_params.get("saved") == "1"
    response = await _page(page, user, views, client_id, secret=secret, saved=saved)
    once.forget(response, page, reports_path(client_id))
    return response


@router.post("/partners/portal/apps/{client_id}/webhook")
async def set_webhook(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, views: ViewsDep
) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    url = fields.get("webhook_url", "")
    try:
        secret = await views.set_webhook(user.user_id, client_id, url)
    except ReportError as exc:
        if exc.status != 400:
            raise
        return await _page(
            page, user, views, client_id, error=exc.message, url=url[:2000], status=400
        )
    path = reports_path(client_id)
    response = page.redirect(path + "?saved=1")
    if secret is not None:
        once.hand_over(
            response, page, kind=WEBHOOK_SECRET, subject=client_id, path=path, secret=secret
        )
    return response


@router.get("/partners/portal/reports/{report_id}.{fmt}")
async def report_file(
    report_id: ReportIdParam, fmt: FormatParam, user: CurrentUserDep, views: ViewsDep
) -> Response:
    body, media_type, filename = await views.report_file(user.user_id, report_id, fmt)
    response = Response(body, media_type=media_type)
    # The file name is built from a stored rpt_ id and a fixed suffix: nothing to quote.
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    if fmt == "html":
        response.headers["Content-Security-Policy"] = REPORT_HTML_POLICY
    return response
