"""Partner apps in the admin API (`/_candor/admin/v1/partners…`, an administrator's token).

List every app (pending and suspended too), approve one, suspend one. These read no
person's data (an app's registration is the partner's own), so they write no access
record; reading messages keeps going through the justified, recorded
`/_candor/admin/v1/rooms/{roomId}/messages`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import Provided, json_response
from candor.partners.admin.schemas import (
    AdminPartnerResponse,
    AdminPartnersResponse,
    AdminPartnerView,
)
from candor.partners.admin.service import PartnerAdminService

router = APIRouter(prefix="/_candor/admin/v1", tags=["admin"])


PartnerAdminDep = Annotated[PartnerAdminService, Depends(Provided(PartnerAdminService))]
ClientIdParam = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/partners", responses={200: {"model": AdminPartnersResponse}})
async def list_partners(requester: RequesterDep, admin: PartnerAdminDep) -> Response:
    """Every registered app with its status, redirect URIs and current agreement.

    No access record: no person's data is read.
    """
    found = await admin.list_apps(requester)
    body = AdminPartnersResponse(partners=[AdminPartnerView.of_app(a) for a in found])
    return json_response(body.model_dump())


@router.post("/partners/{client_id}/approve", responses={200: {"model": AdminPartnerResponse}})
async def approve_partner(
    client_id: ClientIdParam, requester: RequesterDep, admin: PartnerAdminDep
) -> Response:
    """Approve an app (pending or suspended): it may now get tokens. 404 if unknown."""
    app = await admin.approve(requester, client_id)
    return json_response(AdminPartnerResponse(partner=AdminPartnerView.of_app(app)).model_dump())


@router.post("/partners/{client_id}/suspend", responses={200: {"model": AdminPartnerResponse}})
async def suspend_partner(
    client_id: ClientIdParam, requester: RequesterDep, admin: PartnerAdminDep
) -> Response:
    """Suspend an app: all its tokens end in the same transaction. 404 if unknown."""
    app = await admin.suspend(requester, client_id)
    return json_response(AdminPartnerResponse(partner=AdminPartnerView.of_app(app)).model_dump())
