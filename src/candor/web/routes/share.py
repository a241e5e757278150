"""`/share` (the launcher) and `/c/{token}` (a card's click): thin handlers over ShareService.

The launcher needs a login (and comes back with the same query after it). The page shows
the card, the person's conversations (direct ones labelled by the other person) and a
note; the form posts every field back with the CSRF token, and the service checks them
all again. A click needs a login too: the session says which recipient clicked.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import RedirectResponse, Response

from candor.core.errors import CandorError
from candor.matrix.http import Provided
from candor.partners.apps.service import App
from candor.share.rules import ShareDraft
from candor.share.service import ShareService
from candor.web.forms import read_form
from candor.web.pages import CurrentUserDep, Page, PageDep, WebUser

router = APIRouter(include_in_schema=False)

Field = Annotated[str, Query(max_length=2000)]


ShareDep = Annotated[ShareService, Depends(Provided(ShareService))]


async def _draft(share: ShareService, user: WebUser, f: dict[str, str]) -> tuple[App, ShareDraft]:
    if f.get("request"):
        return await share.open_request(f["request"], user.user_id)
    return await share.draft(
        f.get("app_id", ""),
        url=f.get("url", ""),
        title=f.get("title", ""),
        description=f.get("description", ""),
        image=f.get("image") or None,
        interface=f.get("interface", ""),
        surface=f.get("surface", ""),
        variant=f.get("variant", ""),
    )


async def _render(
    page: Page,
    user: WebUser,
    share: ShareService,
    fields: dict[str, str],
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    app, draft = await _draft(share, user, fields)
    return page.render(
        "share/launcher.html",
        status=status,
        app=app,
        draft=draft,
        request_id=fields.get("request", ""),
        options=await share.options(user.user_id),
        error=error,
    )


@router.get("/share")
async def launcher(
    page: PageDep,
    user: CurrentUserDep,
    share: ShareDep,
    app_id: Field = "",
    url: Field = "",
    title: Field = "",
    description: Field = "",
    image: Field = "",
    interface: Field = "",
    surface: Field = "",
    variant: Field = "",
    request_id: Annotated[str, Query(alias="request", max_length=64)] = "",
) -> Response:
    fields = {
        "app_id": app_id,
        "url": url,
        "title": title,
        "description": description,
        "image": image,
        "interface": interface,
        "surface": surface,
        "variant": variant,
        "request": request_id,
    }
    return await _render(page, user, share, fields)


@router.post("/share")
async def send(page: PageDep, user: CurrentUserDep, share: ShareDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    app, draft = await _draft(share, user, fields)
    rooms = [v for k, v in fields.items() if k.startswith("room_") and v]
    try:
        sent = await share.send(
            user.user_id,
            app,
            draft,
            rooms,
            note=fields.get("note", ""),
            request_id=fields.get("request") or None,
        )
    except CandorError as exc:
        return await _render(page, user, share, fields, status=exc.status, error=exc.message)
    return page.render("share/sent.html", app=app, draft=draft, sent=sent)


@router.get("/c/{token}")
async def click(token: str, user: CurrentUserDep, share: ShareDep) -> Response:
    """Count the click (first or repeat, per recipient) and go to the card's URL (302)."""
    url = await share.click(token, user.user_id)
    return RedirectResponse(url, status_code=302)
