"""`GET /privacy/shares`: "Shares and reports": what a person shared through partner apps,
and what each app's reports said about the cells (day, interface, surface, variant) those
shares were counted in."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.reports.views import ReportViews
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

MEASURES = ("sends", "recipients", "first_clicks", "repeat_clicks", "ctr")


ViewsDep = Annotated[ReportViews, Depends(Provided(ReportViews))]


@router.get("/privacy/shares")
async def my_shares(page: PageDep, user: CurrentUserDep, views: ViewsDep) -> Response:
    found = await views.my_shares(user.user_id)
    return page.render(
        "reports/my_shares.html", shares=found.shares, reports=found.reports, measures=MEASURES
    )
