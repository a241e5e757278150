"""`GET/POST /login` and `POST /logout`: the web front door.

A login checks the CSRF token first, then the password (`WebSessionsService.login`),
and answers a wrong one with the login page again (400) that does not say whether the
account exists. Success rotates the session: a new token, the old one ended. After
repeated failures (per account and per address) the page says how long to wait (429).
"""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from candor.matrix.errors import LimitExceeded
from candor.matrix.web_sessions.service import LoginFailed
from candor.web.forms import FormInvalid, LoginForm, read_form, validate_form
from candor.web.pages import Page, PageDep, WebSessionsDep
from candor.web.redirects import safe_next
from candor.web.sessions import CSRF_COOKIE, SESSION_COOKIE, clear_cookie, set_session_cookie

router = APIRouter(include_in_schema=False)

LOGIN_FAILED = "That username and password do not match. Check both and try again."
TOO_MANY = "Too many login attempts. Wait {wait}, then try again."
LOGGED_OUT = "You have logged out."


def _login_page(
    page: Page,
    *,
    next_path: str,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    username: str = "",
) -> Response:
    return page.render(
        "auth/login.html",
        status=status,
        next_path=next_path,
        error=error,
        notice=notice,
        username=username[:255],
    )


def _how_long(retry_after_ms: int) -> str:
    """The wait in words a person reads: whole seconds, or minutes past two minutes."""
    seconds = max(1, (retry_after_ms + 999) // 1000)
    if seconds < 120:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


@router.get("/login")
async def login_page(
    page: PageDep,
    next_: Annotated[str | None, Query(alias="next")] = None,
    logged_out: Annotated[str | None, Query()] = None,
) -> Response:
    target = safe_next(next_)
    if page.user is not None:
        return page.redirect(target)
    return _login_page(page, next_path=target, notice=LOGGED_OUT if logged_out else None)


@router.post("/login")
async def login(page: PageDep, sessions: WebSessionsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    target = safe_next(fields.get("next"))
    username = fields.get("username", "")
    try:
        form = validate_form(LoginForm, fields)
        client = page.request.client
        session = await sessions.login(
            form.username,
            form.password,
            address=client.host if client is not None else None,
            replacing=page.session_token,
        )
    except (FormInvalid, LoginFailed):
        return _login_page(
            page, next_path=target, status=400, error=LOGIN_FAILED, username=username
        )
    except LimitExceeded as exc:
        wait = _how_long(exc.retry_after_ms)
        response = _login_page(
            page, next_path=target, status=429, error=TOO_MANY.format(wait=wait), username=username
        )
        response.headers.update(exc.headers)
        return response
    response = page.redirect(target)
    set_session_cookie(response, page.request, page.keys, session.token)
    clear_cookie(response, page.request, CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(page: PageDep, sessions: WebSessionsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    if page.session_token is not None:
        await sessions.logout(page.session_token)
    response = page.redirect("/login?logged_out=1")
    clear_cookie(response, page.request, SESSION_COOKIE)
    return response
