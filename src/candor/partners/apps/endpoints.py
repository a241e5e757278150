"""`GET /_candor/v1/partners`: every approved app and its agreement, for anyone to read."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from candor.matrix.http import Provided, json_response
from candor.partners.apps.schemas import PartnersResponse, PartnerView
from candor.partners.apps.service import PartnerAppsService

router = APIRouter(prefix="/_candor/v1", tags=["partners"])


AppsDep = Annotated[PartnerAppsService, Depends(Provided(PartnerAppsService))]


@router.get("/partners", responses={200: {"model": PartnersResponse}})
async def list_partners(apps: AppsDep) -> Response:
    """The approved partner apps and the current version of each one's public agreement.

    Pending and suspended apps are not listed: no one can be asked to consent to them.
    """
    found = await apps.list_approved()
    body = PartnersResponse(partners=[PartnerView.of(a) for a in found])
    return json_response(body.model_dump())
