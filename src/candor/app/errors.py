"""Error mapping, once, for every route.

A CandorError becomes its JSON, malformed input the spec's 400, an unknown route
M_UNRECOGNIZED, and anything else a logged 500 M_UNKNOWN (always a bug). On web page paths
(outside the APIs) the same errors render the HTML error page instead, and a page that
needs a login redirects there.
"""

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from candor.app.cors import CORS_HEADERS, is_cors_path
from candor.core.errors import CandorError
from candor.matrix.errors import Codes
from candor.matrix.http import json_response
from candor.web.errors import error_page, is_web_path, on_login_required
from candor.web.pages import LoginRequired
from candor.web.security import SECURITY_HEADERS

logger = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, on_login_required)

    @app.exception_handler(CandorError)
    async def on_candor_error(request: Request, exc: CandorError) -> Response:
        if is_web_path(request.url.path):
            return error_page(request, exc.status, exc.message, exc.headers)
        body = exc.to_json()
        errcode = body.get("errcode")
        if isinstance(errcode, str) and errcode.startswith("M_") and _is_candor_api(request):
            body["errcode"] = "CANDOR_" + errcode.removeprefix("M_")
        response = json_response(body, exc.status)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_web_path(request.url.path):
            return error_page(request, 400)
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = tuple(first.get("loc", ()))
        kind = first.get("type", "")
        where = ".".join(str(p) for p in loc[1:]) or str(loc[0] if loc else "request")
        if kind == "json_invalid" or (loc == ("body",) and kind == "missing"):
            code, message = Codes.NOT_JSON, "Content not JSON."
        elif loc and loc[0] == "body":
            code = Codes.MISSING_PARAM if kind == "missing" else Codes.BAD_JSON
            message = f"Invalid field {where}: {first.get('msg', 'invalid')}"
        elif kind == "missing":
            code, message = Codes.MISSING_PARAM, f"Missing parameter {where}"
        else:
            code, message = (
                Codes.INVALID_PARAM,
                f"Invalid parameter {where}: {first.get('msg', '')}",
            )
        return json_response({"errcode": _errcode(request, code), "error": message[:500]}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, CandorError):
            # FastAPI wraps errors raised while it reads the body (the body middleware's
            # size and NUL checks) in a generic 400; answer with the real error.
            return await on_candor_error(request, exc.__cause__)
        if is_web_path(request.url.path):
            return error_page(request, exc.status_code, headers=exc.headers)
        if exc.status_code in (404, 405):
            return json_response(
                {
                    "errcode": _errcode(request, Codes.UNRECOGNIZED),
                    "error": "Unrecognized request",
                },
                exc.status_code,
            )
        return json_response({"errcode": Codes.UNKNOWN, "error": str(exc.detail)}, exc.status_code)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path)
        if is_web_path(request.url.path):
            page = error_page(request, 500)
            # This handler runs in Starlette's outermost middleware, outside the one that adds
            # the security headers to web pages: add them here.
            for name, value in SECURITY_HEADERS:
                page.headers[name.decode()] = value.decode()
            return page
        response = json_response({"errcode": Codes.UNKNOWN, "error": "Internal server error"}, 500)
        if is_cors_path(request.url.path):
            # Outside the CORS middleware too: a browser client must be able to read the 500.
            for name, value in CORS_HEADERS:
                response.headers[name.decode()] = value.decode()
        return response


def _is_candor_api(request: Request) -> bool:
    return request.url.path.startswith("/_candor/")


def _errcode(request: Request, code: Codes) -> str:
    """Candor's own APIs use the same error shape with `CANDOR_…` codes."""
    if _is_candor_api(request):
        return "CANDOR_" + code.value.removeprefix("M_")
    return code.value
