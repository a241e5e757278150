"""Reporting content, the administrators' report queue, account locks, suspensions, whois.

- `POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}`, `/rooms/{roomId}/report`,
  `/users/{userId}/report` (spec, "Reporting content");
- `GET|PUT /_matrix/client/v1/admin/lock/{userId}` and `/admin/suspend/{userId}`, and
  `GET /_matrix/client/v3/admin/whois/{userId}` (spec, "Server administration");
- the queue, Candor's own: `/_candor/admin/v1/reports…` (docs/api.md, "Admin API").
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.events.model import serialize_event
from candor.matrix.http import CLIENT_PREFIX, Provided, empty_response, json_response
from candor.matrix.moderation.repository import ReportRow
from candor.matrix.moderation.schemas import (
    AdminReport,
    AdminReportsResponse,
    CloseReportBody,
    EventReportBody,
    LockBody,
    ReportBody,
    SuspendBody,
)
from candor.matrix.moderation.service import ModerationService

router = APIRouter(prefix=CLIENT_PREFIX)
admin_v1_router = APIRouter(prefix="/_matrix/client/v1/admin")
queue_router = APIRouter(prefix="/_candor/admin/v1/reports", tags=["admin"])

ModerationDep = Annotated[ModerationService, Depends(Provided(ModerationService))]


# --- reporting (any user) --------------------------------------------------------------


@router.post("/rooms/{room_id}/report/{event_id}")
async def report_event(
    room_id: str,
    event_id: str,
    body: EventReportBody,
    requester: RequesterDep,
    moderation: ModerationDep,
) -> Response:
    """Report an event the reporter is joined to and can see (else the same 404)."""
    await moderation.report_event(requester, room_id, event_id, body.reason)
    return empty_response()


@router.post("/rooms/{room_id}/report")
async def report_room(
    room_id: str, body: ReportBody, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    await moderation.report_room(requester, room_id, body.reason)
    return empty_response()


@router.post("/users/{user_id}/report")
async def report_user(
    user_id: str, body: ReportBody, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    await moderation.report_user(requester, user_id, body.reason)
    return empty_response()


# --- lock, suspend, whois (server administrators) -----------------------------------------


@admin_v1_router.get("/lock/{user_id}")
async def get_lock(user_id: str, requester: RequesterDep, moderation: ModerationDep) -> Response:
    locked, _ = await moderation.restrictions(requester, user_id)
    return json_response({"locked": locked})


@admin_v1_router.put("/lock/{user_id}")
async def set_lock(
    user_id: str, body: LockBody, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    return json_response({"locked": await moderation.set_locked(requester, user_id, body.locked)})


@admin_v1_router.get("/suspend/{user_id}")
async def get_suspend(user_id: str, requester: RequesterDep, moderation: ModerationDep) -> Response:
    _, suspended = await moderation.restrictions(requester, user_id)
    return json_response({"suspended": suspended})


@admin_v1_router.put("/suspend/{user_id}")
async def set_suspend(
    user_id: str, body: SuspendBody, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    suspended = await moderation.set_suspended(requester, user_id, body.suspended)
    return json_response({"suspended": suspended})


@router.get("/admin/whois/{user_id}")
async def whois(
    user_id: str,
    requester: RequesterDep,
    moderation: ModerationDep,
    justification: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Devices → sessions → connections. Candor keeps no address or user agent, so a
    connection has `last_seen` only (and a device never seen since login has none)."""
    info = await moderation.whois(requester, user_id, justification)
    devices = {
        device_id: {"sessions": [{"connections": [] if seen is None else [{"last_seen": seen}]}]}
        for device_id, seen in info.devices
    }
    return json_response({"user_id": info.user_id, "devices": devices})


# --- the report queue (Candor's admin API) ---------------------------------------------


def _report(row: ReportRow) -> AdminReport:
    return AdminReport(
        report_id=row.report_id,
        kind=row.kind,
        reporter=row.reporter_id,
        room_id=row.room_id,
        event_id=row.event_id,
        user_id=row.target_user_id,
        reason=row.reason,
        received_ts=row.received_ts,
        status=row.status,
        closed_by=row.closed_by,
        closed_ts=row.closed_ts,
        note=row.note,
    )


@queue_router.get("", responses={200: {"model": AdminReportsResponse}})
async def list_reports(
    requester: RequesterDep,
    moderation: ModerationDep,
    status: Annotated[str | None, Query(max_length=16)] = "open",
    from_: Annotated[int | None, Query(alias="from", ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The queue in arrival order (`status=open` by default; `all` for every report)."""
    page = await moderation.list_reports(
        requester, None if status == "all" else status, from_, limit
    )
    body = AdminReportsResponse(
        reports=[_report(r) for r in page.reports], next_from=page.next_from
    )
    return json_response(body.model_dump(exclude_none=True))


@queue_router.get("/{report_id}", responses={200: {"model": AdminReport}})
async def get_report(
    report_id: int, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    row = await moderation.get_report(requester, report_id)
    return json_response(_report(row).model_dump(exclude_none=True))


@queue_router.get("/{report_id}/event")
async def reported_event(
    report_id: int, requester: RequesterDep, moderation: ModerationDep
) -> Response:
    """The reported event itself: recorded in the transparency log before it is returned."""
    read = await moderation.read_reported_event(requester, report_id)
    return json_response(
        {
            "event": serialize_event(read.event, now_ms=read.read_ms, requester_device=None),
            "log_index": read.log_index,
        }
    )


@queue_router.post("/{report_id}/resolve")
async def resolve_report(
    report_id: int,
    requester: RequesterDep,
    moderation: ModerationDep,
    body: Annotated[CloseReportBody | None, Body()] = None,
) -> Response:
    row = await moderation.close_report(
        requester, report_id, "resolved", None if body is None else body.note
    )
    return json_response(_report(row).model_dump(exclude_none=True))


@queue_router.post("/{report_id}/dismiss")
async def dismiss_report(
    report_id: int,
    requester: RequesterDep,
    moderation: ModerationDep,
    body: Annotated[CloseReportBody | None, Body()] = None,
) -> Response:
    row = await moderation.close_report(
        requester, report_id, "dismissed", None if body is None else body.note
    )
    return json_response(_report(row).model_dump(exclude_none=True))
