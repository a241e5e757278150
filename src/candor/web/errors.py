"""Error pages: what a browser gets instead of the APIs' JSON errors.

`app.py` maps errors once for every route; for a web page path (anything outside the
`/_matrix/`, `/_candor/` and `/.well-known/` APIs and `/health`) it calls `error_page`,
so a person sees a readable page with the right status, never a JSON blob.
"""

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from candor.web.pages import LoginRequired
from candor.web.redirects import login_url
from candor.web.templating import templates

API_PREFIXES = ("/_", "/.well-known/", "/partner/")
API_PATHS = frozenset({"/health", "/oauth/token", "/oauth/revoke", "/oauth/introspect"})

TITLES = {
    400: "That request could not be understood",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    413: "Too much data",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
MESSAGES = {
    404: "There is no page at this address. Check the address, or go back to the start.",
    405: "This page cannot be used that way.",
    500: "The server could not finish this request. Nothing was changed; please try again.",
}


def is_web_path(path: str) -> bool:
    return not path.startswith(API_PREFIXES) and path not in API_PATHS


def error_page(
    request: Request,
    status: int,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error page. `message` must be safe to show (a CandorError's), never a trace."""
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "Request refused")
    response = templates().TemplateResponse(
        request,
        "errors/error.html",
        {
            "user": None,
            "csrf_token": "",
            "status": status,
            "title": title,
            "message": message or MESSAGES.get(status, ""),
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    if headers:
        response.headers.update(headers)
    return response


async def on_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)  # noqa: S101 - registered for LoginRequired only
    return RedirectResponse(login_url(exc.next_path), status_code=303)
