"""`GET /privacy/accesses`: "Who accessed my data", each record checked against the log."""

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.matrix.privacy.service import PrivacyService
from candor.web.accesses import accesses_view
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

PAGE_LIMIT = 100


PrivacyDep = Annotated[PrivacyService, Depends(Provided(PrivacyService))]


@router.get("/privacy/accesses")
async def accesses(page: PageDep, user: CurrentUserDep, privacy: PrivacyDep) -> Response:
    found = await privacy.accesses_of(user.user_id, PAGE_LIMIT)
    return page.render(
        "privacy/accesses.html",
        view=accesses_view(found, PAGE_LIMIT),
        server_url=privacy.public_base_url,
    )
