"""`GET /_candor/v1/me/accesses`: who accessed my data (Matrix access token)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import Provided, json_response
from candor.matrix.privacy.service import PrivacyService

router = APIRouter(prefix="/_candor/v1", tags=["privacy"])


PrivacyDep = Annotated[PrivacyService, Depends(Provided(PrivacyService))]


@router.get("/me/accesses")
async def my_accesses(
    requester: RequesterDep,
    privacy: PrivacyDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """My access records, newest first, each with an inclusion proof and its check."""
    found = await privacy.my_accesses(requester, limit)
    return json_response({"checkpoint": found.checkpoint, "accesses": found.records})
