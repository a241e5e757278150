"""`GET /`: the start page: what Candor is, and a link to every section of the navigation
(or the ways in: log in, and sign up while registration is open)."""

from fastapi import APIRouter
from starlette.responses import Response

from candor.web.pages import PageDep, WebSessionsDep

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(page: PageDep, sessions: WebSessionsDep) -> Response:
    return page.render("home/index.html", registration_enabled=sessions.registration_enabled)
