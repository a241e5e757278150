"""`GET /privacy/shares`: "Shares and reports": what a person shared through partner apps,
and what each app's reports said about the cells (day, interface, surface, variant) those
shares were counted in."""

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.reports.views import ReportViews
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

# Each count the report carries, and its column heading in words.
MEASURES = {
    "sends": "Cards sent",
    "recipients": "Recipients",
    "first_clicks": "People who clicked",
    "repeat_clicks": "Repeat clicks",
    "ctr": "Click rate",
}


def percent(part: float | None, whole: float | None = 1.0) -> str:
    """A rate as people read it ("23.3 %"); empty when it has no meaning (nobody to click)."""
    if part is None or not whole:
        return ""
    return f"{100 * part / whole:.1f} %".replace(".0 %", " %")


def method_in_words(privacy: Mapping[str, object]) -> str:
    """The report's privacy method as a sentence, with its parameter."""
    method = privacy.get("method")
    if method == "k_threshold":
        k = privacy.get("k")
        return (
            f"k-threshold (k = {k}): a row describing fewer than {k} people was withheld; "
            "the others are exact counts."
        )
    if method == "differential_privacy":
        epsilon = privacy.get("epsilon")
        return (
            f"differential privacy (ε = {epsilon}): every count had random noise added, so no "
            "single person's activity can be told from the numbers."
        )
    return f"{method or 'not stated'}."


ViewsDep = Annotated[ReportViews, Depends(Provided(ReportViews))]


@router.get("/privacy/shares")
async def my_shares(page: PageDep, user: CurrentUserDep, views: ViewsDep) -> Response:
    found = await views.my_shares(user.user_id)
    return page.render(
        "reports/my_shares.html",
        shares=found.shares,
        reports=found.reports,
        measures=MEASURES,
        percent=percent,
        method_in_words=method_in_words,
    )
