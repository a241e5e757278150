"""`GET /privacy/accesses`: "Who accessed my data", each record checked against the log."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from candor.matrix.context import Homeserver
from candor.matrix.http import provided
from candor.matrix.privacy.service import PrivacyService
from candor.web.accesses import accesses_view
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

PAGE_LIMIT = 100


async def get_privacy(request: Request) -> PrivacyService:
    return provided(request, PrivacyService)


PrivacyDep = Annotated[PrivacyService, Depends(get_privacy)]


async def get_public_base_url(request: Request) -> str:
    """The configured public base URL (never the request's Host header)."""
    hs: Homeserver = request.app.state.homeserver
    return hs.public_base_url


PublicBaseUrlDep = Annotated[str, Depends(get_public_base_url)]


@router.get("/privacy/accesses")
async def accesses(
    page: PageDep, user: CurrentUserDep, privacy: PrivacyDep, server_url: PublicBaseUrlDep
) -> Response:
    found = await privacy.accesses_of(user.user_id, PAGE_LIMIT)
    return page.render(
        "privacy/accesses.html",
        view=accesses_view(found, PAGE_LIMIT),
        server_url=server_url,
    )
