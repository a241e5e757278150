"""What every page handler starts from: who is logged in, the CSRF token, and `render`.

`PageDep` resolves the browser's session (signed cookie → live server-side session) and
the CSRF token its forms must carry; `CurrentUserDep` additionally insists on a login,
raising LoginRequired, which `app.py` turns into a redirect to `/login?next=<this page>`.
Handlers stay thin: read the form, `page.check_csrf(fields)`, call one service, then
`page.render(...)` or `page.redirect(...)`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from candor.matrix.http import Provided
from candor.matrix.web_sessions.service import WebSessionsService
from candor.web.csrf import (
    CSRF_FIELD,
    anonymous_csrf_token,
    check_csrf_token,
    new_nonce,
    session_csrf_token,
)
from candor.web.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    WebKeys,
    read_signed_cookie,
    set_csrf_cookie,
)
from candor.web.templating import templates


@dataclass(frozen=True, slots=True)
class WebUser:
    user_id: str
    is_admin: bool


class LoginRequired(Exception):
    """The page needs a logged-in person; `next_path` is where to come back to."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(slots=True)
class Page:
    request: Request
    keys: WebKeys
    user: WebUser | None
    # The raw session token, for logout and login rotation only: never rendered.
    session_token: str | None
    csrf_token: str
    _accepted: tuple[str, ...]
    _new_nonce: str | None

    def render(self, template: str, *, status: int = 200, **context: object) -> Response:
        """Render `template` with the layout's context (user, CSRF token) added.

        Pages show personal data, so no cache may keep them. A first anonymous visit gets
        its CSRF cookie here, with the form that needs it.
        """
        response = templates().TemplateResponse(
            self.request,
            template,
            {
                "user": self.user,
                "csrf_token": self.csrf_token,
                "csrf_field": CSRF_FIELD,
                **context,
            },
            status_code=status,
        )
        response.headers["Cache-Control"] = "no-store"
        if self._new_nonce is not None:
            set_csrf_cookie(response, self.request, self.keys, self._new_nonce)
        return response

    def check_csrf(self, fields: Mapping[str, str]) -> None:
        """Raise CsrfFailed unless the form carries a token this browser was given.

        Checked before anything else a POST does, so a forged request changes nothing.
        """
        check_csrf_token(fields.get(CSRF_FIELD), self._accepted)

    @staticmethod
    def redirect(url: str) -> Response:
        """303 See Other: the browser follows with a GET (post/redirect/get)."""
        return RedirectResponse(url, status_code=303)


WebSessionsDep = Annotated[WebSessionsService, Depends(Provided(WebSessionsService))]


async def get_page(request: Request, sessions: WebSessionsDep) -> Page:
    keys: WebKeys = request.app.state.web_keys
    accepted: list[str] = []
    user: WebUser | None = None
    token = read_signed_cookie(request, SESSION_COOKIE, keys.session_signer)
    session = await sessions.get(token) if token is not None else None
    csrf_token = ""
    if token is not None and session is not None:
        user = WebUser(session.user_id, session.is_admin)
        csrf_token = session_csrf_token(keys.csrf_key, token)
        accepted.append(csrf_token)
    else:
        token = None
    # An anonymous form (login) may be submitted just after a login in another tab, so
    # the anonymous token stays acceptable as long as its signed cookie is there.
    nonce = read_signed_cookie(request, CSRF_COOKIE, keys.csrf_signer)
    fresh: str | None = None
    if nonce is not None:
        accepted.append(anonymous_csrf_token(keys.csrf_key, nonce))
    if user is None:
        if nonce is None:
            nonce = fresh = new_nonce()
        csrf_token = anonymous_csrf_token(keys.csrf_key, nonce)
    return Page(request, keys, user, token, csrf_token, tuple(accepted), fresh)


PageDep = Annotated[Page, Depends(get_page)]


async def current_user(page: PageDep) -> WebUser:
    """The logged-in person, or LoginRequired (→ redirect to the login page and back)."""
    if page.user is None:
        url = page.request.url
        raise LoginRequired(url.path + (f"?{url.query}" if url.query else ""))
    return page.user


CurrentUserDep = Annotated[WebUser, Depends(current_user)]
