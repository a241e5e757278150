"""`GET/POST /login`, `GET/POST /register`, `GET /welcome` and `POST /logout`: the web
front door.

A login checks the CSRF token first, then the password (`WebSessionsService.login`),
and answers a wrong one with the login page again (400) that does not say whether the
account exists. Success rotates the session: a new token, the old one ended. After
repeated failures (per account and per address) the page says how long to wait (429).

The sign-up form is Matrix registration itself (`WebSessionsService.register` calls
`AccountsService.register`): the same switch, username rules, password policy and
per-address limit, so the two doors can never disagree. While registration is off the
page says so (403) and no page links to it. A new account is signed in at once and
lands on `/welcome`, which says how to chat with any Matrix client.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from candor.matrix.client.discovery import Discovery
from candor.matrix.errors import Codes, Forbidden, LimitExceeded, MatrixError
from candor.matrix.http import Provided
from candor.matrix.web_sessions.service import LoginFailed, WebAccountLocked
from candor.web.forms import FormInvalid, LoginForm, RegisterForm, read_form, validate_form
from candor.web.pages import CurrentUserDep, Page, PageDep, WebSessionsDep
from candor.web.redirects import safe_next
from candor.web.sessions import CSRF_COOKIE, SESSION_COOKIE, clear_cookie, set_session_cookie

router = APIRouter(include_in_schema=False)

LOGIN_FAILED = "That username and password do not match. Check both and try again."
ACCOUNT_LOCKED = (
    "This account has been locked by the server's administrators. Ask them why, and to unlock it."
)
TOO_MANY = "Too many login attempts. Wait {wait}, then try again."
LOGGED_OUT = "You have logged out."
TOO_MANY_SIGNUPS = "Too many sign-ups from your network. Wait {wait}, then try again."
PASSWORDS_DIFFER = "The two passwords are not the same. Type the same password twice."
# What Matrix registration's refusals mean to a person filling in the form.
REFUSALS = {
    Codes.INVALID_USERNAME.value: (
        "That username cannot be used. Use lower-case letters a to z, digits and . _ = - / +, "
        "like alice or bob.smith."
    ),
    Codes.USER_IN_USE.value: "That username is taken. Choose another one.",
    Codes.WEAK_PASSWORD.value: "Choose a password: it must not be empty.",
    Codes.INVALID_PARAM.value: "That password is too long: use at most 512 characters.",
}

DiscoveryDep = Annotated[Discovery, Depends(Provided(Discovery))]


def _login_page(
    page: Page,
    *,
    next_path: str,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    username: str = "",
    registration_enabled: bool = False,
) -> Response:
    return page.render(
        "auth/login.html",
        status=status,
        next_path=next_path,
        error=error,
        notice=notice,
        username=username[:255],
        registration_enabled=registration_enabled,
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
    sessions: WebSessionsDep,
    next_: Annotated[str | None, Query(alias="next")] = None,
    logged_out: Annotated[str | None, Query()] = None,
) -> Response:
    target = safe_next(next_)
    if page.user is not None:
        return page.redirect(target)
    return _login_page(
        page,
        next_path=target,
        notice=LOGGED_OUT if logged_out else None,
        registration_enabled=sessions.registration_enabled,
    )


@router.post("/login")
async def login(page: PageDep, sessions: WebSessionsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    target = safe_next(fields.get("next"))
    username = fields.get("username", "")

    def refused(status: int, error: str) -> Response:
        return _login_page(
            page,
            next_path=target,
            status=status,
            error=error,
            username=username,
            registration_enabled=sessions.registration_enabled,
        )

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
        return refused(400, LOGIN_FAILED)
    except WebAccountLocked:
        return refused(403, ACCOUNT_LOCKED)
    except LimitExceeded as exc:
        response = refused(429, TOO_MANY.format(wait=_how_long(exc.retry_after_ms)))
        response.headers.update(exc.headers)
        return response
    response = page.redirect(target)
    set_session_cookie(response, page.request, page.keys, session.token)
    clear_cookie(response, page.request, CSRF_COOKIE)
    return response


def _register_page(
    page: Page, *, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    return page.render("auth/register.html", status=status, error=error, username=username[:255])


def _closed_page(page: Page) -> Response:
    return page.render("auth/register_closed.html", status=403)


@router.get("/register")
async def register_page(page: PageDep, sessions: WebSessionsDep) -> Response:
    if not sessions.registration_enabled:
        return _closed_page(page)
    if page.user is not None:
        return page.redirect("/welcome")
    return _register_page(page)


@router.post("/register")
async def register(page: PageDep, sessions: WebSessionsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    if not sessions.registration_enabled:
        return _closed_page(page)
    username = fields.get("username", "")
    try:
        form = validate_form(RegisterForm, fields)
    except FormInvalid:
        return _register_page(page, status=400, error=REFUSALS[Codes.INVALID_USERNAME.value])
    if form.password != form.password_again:
        return _register_page(page, status=400, error=PASSWORDS_DIFFER, username=username)
    client = page.request.client
    try:
        session = await sessions.register(
            form.username,
            form.password,
            address=client.host if client is not None else None,
            replacing=page.session_token,
        )
    except LimitExceeded as exc:
        wait = _how_long(exc.retry_after_ms)
        response = _register_page(
            page, status=429, error=TOO_MANY_SIGNUPS.format(wait=wait), username=username
        )
        response.headers.update(exc.headers)
        return response
    except Forbidden:  # registration was switched off between the check and now
        return _closed_page(page)
    except MatrixError as exc:
        error = REFUSALS.get(exc.errcode, exc.message)
        return _register_page(page, status=400, error=error, username=username)
    response = page.redirect("/welcome")
    set_session_cookie(response, page.request, page.keys, session.token)
    clear_cookie(response, page.request, CSRF_COOKIE)
    return response


@router.get("/welcome")
async def welcome(page: PageDep, user: CurrentUserDep, discovery: DiscoveryDep) -> Response:
    """How to chat: any Matrix client, this homeserver's URL, the person's full id."""
    return page.render(
        "auth/welcome.html", user_id=user.user_id, homeserver_url=discovery.public_base_url
    )


@router.post("/logout")
async def logout(page: PageDep, sessions: WebSessionsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    if page.session_token is not None:
        await sessions.logout(page.session_token)
    response = page.redirect("/login?logged_out=1")
    clear_cookie(response, page.request, SESSION_COOKIE)
    return response
