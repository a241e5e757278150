"""`/admin/reports`: administrators work the moderation queue (read, resolve, dismiss).

Administrators only (`ModerationService` checks before it reads anything). The queue shows
who reported what and why, never the reported message; reading the message is a POST
(never a link a browser might prefetch) because it is recorded in the transparency log,
naming its sender, before the page shows it. Every form carries the CSRF token.
"""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.matrix.moderation.service import ModerationService
from candor.web.accesses import human_time
from candor.web.forms import read_form
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

ModerationDep = Annotated[ModerationService, Depends(Provided(ModerationService))]
ReportIdParam = Annotated[int, Path(ge=1, le=2**62)]
KINDS = {"event": "A message", "room": "A room", "user": "A person"}


@router.get("/admin/reports")
async def queue(
    page: PageDep,
    user: CurrentUserDep,
    moderation: ModerationDep,
    show: Annotated[str, Query(pattern="^(open|all)$")] = "open",
) -> Response:
    found = await moderation.list_reports(user, "open" if show == "open" else None, None, 500)
    reports = [
        {
            "id": r.report_id,
            "what": KINDS.get(r.kind, r.kind),
            "kind": r.kind,
            "reporter": r.reporter_id,
            "about": r.target_user_id,
            "room": r.room_id,
            "reason": r.reason,
            "received": human_time(r.received_ts)[0],
            "status": r.status,
            "closed_by": r.closed_by,
            "note": r.note,
        }
        for r in found.reports
    ]
    return page.render("admin/reports.html", reports=reports, show=show)


@router.post("/admin/reports/{report_id}/read")
async def read_message(
    report_id: ReportIdParam, page: PageDep, user: CurrentUserDep, moderation: ModerationDep
) -> Response:
    page.check_csrf(await read_form(page.request))
    read = await moderation.read_reported_event(user, report_id)
    content = read.event.content
    body = content.get("body")
    return page.render(
        "admin/reported_event.html",
        report_id=report_id,
        sender=read.event.sender,
        room=read.event.room_id,
        event_type=read.event.type,
        sent=human_time(read.event.origin_server_ts)[0],
        body=body if isinstance(body, str) else None,
        content=json.dumps(content, indent=2, ensure_ascii=False, sort_keys=True),
        log_index=read.log_index,
    )


async def _close(
    report_id: int, status: str, page: PageDep, user: CurrentUserDep, moderation: ModerationDep
) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    note = fields.get("note", "").strip()[:2000] or None
    await moderation.close_report(user, report_id, status, note)
    return page.redirect(f"/admin/reports#report-{report_id}")


@router.post("/admin/reports/{report_id}/resolve")
async def resolve(
    report_id: ReportIdParam, page: PageDep, user: CurrentUserDep, moderation: ModerationDep
) -> Response:
    return await _close(report_id, "resolved", page, user, moderation)


@router.post("/admin/reports/{report_id}/dismiss")
async def dismiss(
    report_id: ReportIdParam, page: PageDep, user: CurrentUserDep, moderation: ModerationDep
) -> Response:
    return await _close(report_id, "dismissed", page, user, moderation)
