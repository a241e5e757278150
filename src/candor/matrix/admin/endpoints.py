"""The admin API under /_candor/admin/v1 (administrators' Matrix access tokens)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.admin.service import AdminService
from candor.matrix.auth import HomeserverDep, RequesterDep
from candor.matrix.events.model import serialize_event
from candor.matrix.http import json_response

router = APIRouter(prefix="/_candor/admin/v1", tags=["admin"])


async def get_admin(hs: HomeserverDep) -> AdminService:
    return AdminService(hs)


AdminDep = Annotated[AdminService, Depends(get_admin)]


@router.get("/rooms/{room_id}/messages")
async def room_messages(
    room_id: str,
    requester: RequesterDep,
    admin: AdminDep,
    hs: HomeserverDep,
    justification: Annotated[str | None, Query(max_length=2000)] = None,
    from_: Annotated[int, Query(alias="from", ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """A room's events, oldest first, recorded in the transparency log before they leave."""
    page = await admin.read_room_messages(requester, room_id, justification, from_, limit)
    now = hs.clock.now_ms()
    body: dict[str, object] = {
        "chunk": [serialize_event(e, now_ms=now, requester_device=None) for e in page.events],
        "log_index": page.log_index,
    }
    if page.next_from is not None:
        body["next_from"] = page.next_from
    return json_response(body)
