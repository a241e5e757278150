"""`GET /_candor/v1/me/accesses`: who accessed my data (Matrix access token)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import json_response, provided
from candor.matrix.privacy.service import PrivacyService

router = APIRouter(prefix="/_candor/v1", tags=["privacy"])


async def get_privacy(request: Request) -> PrivacyService:
    return provided(request, PrivacyService)


PrivacyDep = Annotated[PrivacyService, Depends(get_privacy)]


@router.get("/me/accesses")
async def my_accesses(
    requester: RequesterDep,
    privacy: PrivacyDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """My access records, newest first, each with an inclusion proof and its check."""
    found = await privacy.my_accesses(requester, limit)
    return json_response({"checkpoint": found.checkpoint, "accesses": found.records})
