"""GET and PUT /presence/{userId}/status.

https://spec.matrix.org/v1.11/client-server-api/#presence
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import CLIENT_PREFIX, Provided, empty_response, json_response
from candor.matrix.presence.schemas import PresenceBody
from candor.matrix.presence.service import PresenceService

router = APIRouter(prefix=CLIENT_PREFIX)

PresenceDep = Annotated[PresenceService, Depends(Provided(PresenceService))]


@router.get("/presence/{user_id}/status")
async def get_presence(user_id: str, requester: RequesterDep, presence: PresenceDep) -> Response:
    """A person's presence: your own, or that of someone you share a joined room with."""
    return json_response(await presence.get_status(requester, user_id))


@router.put("/presence/{user_id}/status")
async def set_presence(
    user_id: str, body: PresenceBody, requester: RequesterDep, presence: PresenceDep
) -> Response:
    """Set your own presence state and status message."""
    await presence.set_status(requester, user_id, body.presence, body.status_msg)
    return empty_response()
