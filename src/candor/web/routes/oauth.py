"""`GET|POST /oauth/authorize`: the OAuth authorization endpoint, as a consent page.

The client and its exact redirect URI are checked first (an error page otherwise, never a
redirect); then the login page comes if needed; then the consent page, whose Allow and
Deny post back here with a CSRF token. The protocol work is `OAuthServer`'s.
"""

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from candor.partners.apps.rules import SCOPES
from candor.partners.oauth.adapter import OAuthResponse
from candor.partners.oauth.endpoints import ServerDep
from candor.web.forms import FormInvalid, read_form
from candor.web.pages import LoginRequired, Page, PageDep, WebUser
from candor.web.security import policy_with_form_action

router = APIRouter(include_in_schema=False)

SCOPE_FIELD = "scope:"  # one checkbox per optional scope: "scope:share" = "on"


def _logged_in(page: Page) -> WebUser:
    if page.user is None:
        url = page.request.url
        raise LoginRequired(f"{url.path}?{url.query}")
    return page.user


def _follow(result: OAuthResponse) -> Response:
    """Send the browser back to the app (authlib gives the Location, code or error)."""
    return RedirectResponse(str(result.location), status_code=result.status)


@router.get("/oauth/authorize")
async def authorize(request: Request, page: PageDep, server: ServerDep) -> Response:
    req, app = await server.authorization_target(request)
    user = _logged_in(page)
    result = await server.begin(req, app, user.user_id)
    if isinstance(result, OAuthResponse):
        return _follow(result)
    response = page.render(
        "oauth/consent.html",
        app=result.app,
        scopes=[(s, SCOPES[s], s in result.required) for s in result.scopes],
        scope_field=SCOPE_FIELD,
        action=f"/oauth/authorize?{request.url.query}",
    )
    # The answer redirects to the app: the browser checks that against `form-action`.
    response.headers["Content-Security-Policy"] = policy_with_form_action(
        req.payload.data["redirect_uri"]
    )
    return response


@router.post("/oauth/authorize")
async def decide(request: Request, page: PageDep, server: ServerDep) -> Response:
    fields = await read_form(request)
    page.check_csrf(fields)
    req, _app = await server.authorization_target(request)
    user = _logged_in(page)
    decision = fields.get("decision")
    if decision not in ("allow", "deny"):
        raise FormInvalid("Choose Allow or Deny.")
    ticked = [
        name.removeprefix(SCOPE_FIELD)
        for name, v in fields.items()
        if name.startswith(SCOPE_FIELD) and v == "on"
    ]
    result = await server.decide(req, user.user_id, allow=decision == "allow", ticked=ticked)
    return _follow(result)
