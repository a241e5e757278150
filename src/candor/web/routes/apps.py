"""`GET /privacy/apps` ("Connected apps") and `POST /privacy/apps/revoke`."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.partners.oauth.connected import ConnectedAppsService
from candor.web.accesses import human_time
from candor.web.forms import read_form, validate_form
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)


ConnectedDep = Annotated[ConnectedAppsService, Depends(Provided(ConnectedAppsService))]


class RevokeAppForm(BaseModel):
    """`POST /privacy/apps/revoke`: the app to disconnect."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


@router.get("/privacy/apps")
async def connected_apps(page: PageDep, user: CurrentUserDep, connected: ConnectedDep) -> Response:
    found = await connected.list_for(user.user_id)
    rows = [
        {
            "client_id": a.client_id,
            "name": a.name,
            "scopes": a.scopes,
            "since": human_time(a.created_ts)[0],
            "last_used": None if a.last_used_ts is None else human_time(a.last_used_ts)[0],
        }
        for a in found
    ]
    revoked = page.request.query_params.get("revoked") == "1"
    return page.render("privacy/apps.html", apps=rows, revoked=revoked)


@router.post("/privacy/apps/revoke")
async def revoke_app(page: PageDep, user: CurrentUserDep, connected: ConnectedDep) -> Response:
    """Disconnect an app: its consent ends and every one of its tokens for this person."""
    fields = await read_form(page.request)
    page.check_csrf(fields)
    form = validate_form(RevokeAppForm, fields)
    await connected.revoke(user.user_id, form.client_id)
    return page.redirect("/privacy/apps?revoked=1")
