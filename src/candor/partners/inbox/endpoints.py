"""The Inbox API under /partner/v1 (OAuth bearer token with `inbox.read`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.events.model import serialize_event
from candor.matrix.http import Provided, json_response
from candor.partners.inbox.schemas import MessagesResponse, RoomsResponse
from candor.partners.inbox.service import MAX_PAGE, InboxService
from candor.partners.oauth.bearer import PartnerToken
from candor.partners.oauth.endpoints import require_scope

router = APIRouter(prefix="/partner/v1", tags=["inbox"])

InboxToken = Annotated[PartnerToken, Depends(require_scope("inbox.read"))]


InboxDep = Annotated[InboxService, Depends(Provided(InboxService))]


@router.get("/rooms", responses={200: {"model": RoomsResponse}})
async def rooms(token: InboxToken, inbox: InboxDep) -> Response:
    """Rooms with a live grant for this app that include the token's person.

    Only those: an app holding every scope and no grant sees an empty list. A non-empty
    list is recorded in the transparency log before it is sent.
    """
    page = await inbox.rooms(token)
    return json_response(
        {
            "rooms": [
                {
                    "room_id": g.room_id,
                    "grant_id": g.grant_id,
                    "members": list(g.members),
                    "expires_ts": g.expires_ts,
                }
                for g in page.grants
            ],
            "log_index": page.log_index,
        }
    )


@router.get("/rooms/{room_id}/messages", responses={200: {"model": MessagesResponse}})
async def messages(
    room_id: str,
    token: InboxToken,
    inbox: InboxDep,
    from_: Annotated[int, Query(alias="from", ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Response:
    """Events inside the grant's window, oldest first; `next_from` pages forward.

    Recorded in the transparency log (app, grant, every member, the range) before any event
    leaves; if the log cannot take the record the answer is 503 and no event.
    """
    page = await inbox.messages(token, room_id, from_, limit)
    body: dict[str, object] = {
        "chunk": [serialize_event(e, now_ms=page.now_ms) for e in page.events],
        "grant_id": page.grant.grant_id,
        "log_index": page.log_index,
    }
    if page.next_from is not None:
        body["next_from"] = page.next_from
    return json_response(body)
