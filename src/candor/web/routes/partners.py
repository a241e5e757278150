"""`GET /partners`: every approved partner app and its agreement in plain words.

Public (no login): anyone can read what each app may do with people's data before anyone
is asked to consent to it. Pending and suspended apps are not listed.
"""

from fastapi import APIRouter
from starlette.responses import Response

from candor.web.pages import PageDep
from candor.web.partner_views import app_view
from candor.web.routes.portal import AppsDep

router = APIRouter(include_in_schema=False)


@router.get("/partners")
async def partners(page: PageDep, apps: AppsDep) -> Response:
    found = await apps.list_approved()
    return page.render("partners/list.html", apps=[app_view(a) for a in found])
