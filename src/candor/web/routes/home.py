"""`GET /`: the start page (what a person can do here, or the way to log in)."""

from fastapi import APIRouter
from starlette.responses import Response

from candor.web.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(page: PageDep) -> Response:
    return page.render("home/index.html")
