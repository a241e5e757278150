"""`/admin/partners`: administrators review partner apps (approve, suspend).

Administrators only: anyone else gets the 403 page, from `PartnerAdminService`, which
checks before it reads or changes anything. Each button is its own POST form with the
CSRF token, checked first; suspending ends every token of the app at once.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.partners.admin.service import PartnerAdminService
from candor.web.forms import read_form
from candor.web.pages import CurrentUserDep, PageDep
from candor.web.partner_views import app_view

router = APIRouter(include_in_schema=False)


PartnerAdminDep = Annotated[PartnerAdminService, Depends(Provided(PartnerAdminService))]
ClientIdParam = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/admin/partners")
async def review(page: PageDep, user: CurrentUserDep, admin: PartnerAdminDep) -> Response:
    found = await admin.list_apps(user)
    return page.render("admin/partners.html", apps=[app_view(a) for a in found])


@router.post("/admin/partners/{client_id}/approve")
async def approve(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, admin: PartnerAdminDep
) -> Response:
    page.check_csrf(await read_form(page.request))
    await admin.approve(user, client_id)
    return page.redirect(f"/admin/partners#app-{client_id}")


@router.post("/admin/partners/{client_id}/suspend")
async def suspend(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, admin: PartnerAdminDep
) -> Response:
    page.check_csrf(await read_form(page.request))
    await admin.suspend(user, client_id)
    return page.redirect(f"/admin/partners#app-{client_id}")
