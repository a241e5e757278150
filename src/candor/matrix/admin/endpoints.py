"""The admin API under /_candor/admin/v1 (administrators' Matrix access tokens).

Everything here needs an administrator's token (403 CANDOR_FORBIDDEN otherwise) and a
justification with visible words (400 CANDOR_ACCESS_REFUSED otherwise). Every read, the
directory lists included, is recorded in the transparency log before anything is
returned (see `AdminService`).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.admin.schemas import (
    AdminRoom,
    AdminRoomsResponse,
    AdminUser,
    AdminUsersResponse,
)
from candor.matrix.admin.service import AdminService
from candor.matrix.auth import RequesterDep
from candor.matrix.events.model import serialize_event
from candor.matrix.http import Provided, json_response

router = APIRouter(prefix="/_candor/admin/v1", tags=["admin"])


AdminDep = Annotated[AdminService, Depends(Provided(AdminService))]
FromParam = Annotated[str | None, Query(alias="from", max_length=255)]
LimitParam = Annotated[int, Query(ge=1, le=1000)]
JustificationParam = Annotated[
    str | None, Query(max_length=2000, description="Why the administrator reads this")
]


@router.get("/users", responses={200: {"model": AdminUsersResponse}})
async def list_users(
    requester: RequesterDep,
    admin: AdminDep,
    justification: JustificationParam = None,
    from_: FromParam = None,
    limit: LimitParam = 100,
) -> Response:
    """Every account (`user_id` order); pass `next_from` back as `from` for the next page.

    Needs a justification, and each page is recorded in the transparency log (naming the
    accounts on it) before it is returned: display names are people's own data.
    """
    page = await admin.list_users(requester, justification, from_, limit)
    body = AdminUsersResponse(
        users=[
            AdminUser(
                user_id=u.user_id,
                displayname=u.displayname,
                admin=u.is_admin,
                deactivated=u.deactivated,
                created_ts=u.created_ts,
            )
            for u in page.users
        ],
        next_from=page.next_from,
    )
    return json_response(body.model_dump(exclude={"next_from"} if body.next_from is None else None))


@router.get("/rooms", responses={200: {"model": AdminRoomsResponse}})
async def list_rooms(
    requester: RequesterDep,
    admin: AdminDep,
    justification: JustificationParam = None,
    from_: FromParam = None,
    limit: LimitParam = 100,
) -> Response:
    """Every room (`room_id` order): name, joined members, encrypted. No message content.

    Needs a justification, and each page is recorded in the transparency log (naming the
    members of its rooms) before it is returned. Messages: `/rooms/{roomId}/messages`.
    """
    page = await admin.list_rooms(requester, justification, from_, limit)
    body = AdminRoomsResponse(
        rooms=[
            AdminRoom(
                room_id=r.room_id,
                name=r.name,
                joined_members=r.joined_members,
                encrypted=r.encrypted,
                created_ts=r.created_ts,
            )
            for r in page.rooms
        ],
        next_from=page.next_from,
    )
    return json_response(body.model_dump(exclude={"next_from"} if body.next_from is None else None))


@router.get("/rooms/{room_id}/messages")
async def room_messages(
    room_id: str,
    requester: RequesterDep,
    admin: AdminDep,
    justification: Annotated[str | None, Query(max_length=2000)] = None,
    from_: Annotated[int, Query(alias="from", ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """A room's events, oldest first, recorded in the transparency log before they leave."""
    page = await admin.read_room_messages(requester, room_id, justification, from_, limit)
    body: dict[str, object] = {
        "chunk": [
            serialize_event(e, now_ms=page.read_ms, requester_device=None) for e in page.events
        ],
        "log_index": page.log_index,
    }
    if page.next_from is not None:
        body["next_from"] = page.next_from
    return json_response(body)
