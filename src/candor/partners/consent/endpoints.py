"""Room grants over the API (Matrix access token): ask, list, accept, decline, revoke.

Each handler authenticates, parses, calls one `ConsentService` method and serialises.
The notice posted in the room points members at the privacy page `/privacy/grants` under
the configured public base URL (never the request's Host header: the notice is shown to
every member); the service is built with that URL (candor/wiring.py).
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import Provided, json_response
from candor.partners.consent.schemas import (
    GrantAcceptBody,
    GrantCreatedResponse,
    GrantRequestBody,
    GrantsResponse,
    GrantView,
)
from candor.partners.consent.service import ConsentService

router = APIRouter(prefix="/_candor/v1", tags=["room grants"])


ConsentDep = Annotated[ConsentService, Depends(Provided(ConsentService))]


@router.post("/rooms/{room_id}/grants", responses={200: {"model": GrantCreatedResponse}})
async def request_grant(
    room_id: str,
    body: GrantRequestBody,
    requester: RequesterDep,
    consent: ConsentDep,
) -> Response:
    """Ask every joined member of the room to let an app read it (all-party consent)."""
    grant = await consent.request(
        requester.user_id,
        room_id,
        body.client_id,
        days=body.days,
        include_history=body.include_history,
    )
    return json_response(
        GrantCreatedResponse(grant_id=grant.grant_id, status=grant.status).model_dump()
    )


@router.get("/grants", responses={200: {"model": GrantsResponse}})
async def list_grants(requester: RequesterDep, consent: ConsentDep) -> Response:
    """The grants the person was asked about, each with its status as of now."""
    grants = await consent.list_for(requester.user_id)
    body = GrantsResponse(grants=[GrantView.of(g, requester.user_id) for g in grants])
    return json_response(body.model_dump())


@router.post("/grants/{grant_id}/accept", responses={200: {"model": GrantView}})
async def accept_grant(
    grant_id: str,
    requester: RequesterDep,
    consent: ConsentDep,
    body: Annotated[GrantAcceptBody | None, Body()] = None,
) -> Response:
    grant = await consent.accept(
        requester.user_id, grant_id, None if body is None else body.include_history
    )
    return json_response(GrantView.of(grant, requester.user_id).model_dump())


@router.post("/grants/{grant_id}/decline", responses={200: {"model": GrantView}})
async def decline_grant(grant_id: str, requester: RequesterDep, consent: ConsentDep) -> Response:
    grant = await consent.decline(requester.user_id, grant_id)
    return json_response(GrantView.of(grant, requester.user_id).model_dump())


@router.post("/grants/{grant_id}/revoke", responses={200: {"model": GrantView}})
async def revoke_grant(grant_id: str, requester: RequesterDep, consent: ConsentDep) -> Response:
    grant = await consent.revoke(requester.user_id, grant_id)
    return json_response(GrantView.of(grant, requester.user_id).model_dump())
