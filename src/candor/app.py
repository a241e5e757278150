"""Composition root: builds the homeserver's parts and the ASGI app from Settings.

Errors are mapped here, once, for every route: a CandorError becomes its JSON, malformed
input becomes the spec's 400, an unknown route M_UNRECOGNIZED, and anything else a
logged 500 M_UNKNOWN (always a bug). On web page paths (outside the APIs) the same
errors render the HTML error page instead, and a page that needs a login redirects there.
"""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor.config import Settings
from candor.core.canonical_json import encode as json_dumps
from candor.core.clock import Clock, SystemClock
from candor.core.errors import CandorError
from candor.core.json_body import JsonBodyCheck, is_json_content
from candor.matrix.accounts.endpoints import router as accounts_router
from candor.matrix.accounts.passwords import Passwords
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.admin.endpoints import router as admin_router
from candor.matrix.client.endpoints import router as client_router
from candor.matrix.client.endpoints import versions_router
from candor.matrix.context import Homeserver
from candor.matrix.devices.endpoints import router as devices_router
from candor.matrix.errors import Codes
from candor.matrix.events.persister import EventPersister
from candor.matrix.http import json_response
from candor.matrix.keys.endpoints import router as keys_router
from candor.matrix.login_backoff import LoginBackoff
from candor.matrix.privacy.endpoints import router as privacy_router
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.room_keys.endpoints import router as room_keys_router
from candor.matrix.rooms.endpoints import router as rooms_router
from candor.matrix.sync.endpoints import router as sync_router
from candor.matrix.sync.notifier import Notifier
from candor.matrix.sync.typing import TypingTracker
from candor.matrix.to_device.endpoints import router as to_device_router
from candor.partners.admin.endpoints import router as partner_admin_router
from candor.partners.apps.endpoints import router as partners_router
from candor.partners.consent.endpoints import router as consent_router
from candor.partners.inbox.endpoints import router as inbox_router
from candor.partners.oauth.endpoints import partner_router as partner_api_router
from candor.partners.oauth.endpoints import router as oauth_router
from candor.reports.endpoints import router as reports_router
from candor.reports.scheduler import ReportScheduler
from candor.share.endpoints import router as share_router
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.endpoints import router as transparency_router
from candor.transparency.keys import load_or_create_signer
from candor.transparency.log import TransparencyLog
from candor.transparency.service import TileService, TransparencyService
from candor.web.errors import error_page, is_web_path, on_login_required
from candor.web.own_origin import RelativeRedirectMiddleware
from candor.web.pages import LoginRequired
from candor.web.routes.admin import router as web_admin_router
from candor.web.routes.apps import router as web_apps_router
from candor.web.routes.auth import router as web_auth_router
from candor.web.routes.grants import router as web_grants_router
from candor.web.routes.home import router as web_home_router
from candor.web.routes.my_shares import router as web_my_shares_router
from candor.web.routes.oauth import router as web_oauth_router
from candor.web.routes.partners import router as web_partners_router
from candor.web.routes.portal import router as web_portal_router
from candor.web.routes.privacy import router as web_privacy_router
from candor.web.routes.reports import router as web_reports_router
from candor.web.routes.share import router as web_share_router
from candor.web.security import SECURITY_HEADERS, SecurityHeadersMiddleware
from candor.web.sessions import WebKeys
from candor.web.templating import STATIC_DIR

logger = logging.getLogger(__name__)

CLIENT_PREFIX = "/_matrix/client/v3"


def build_homeserver(settings: Settings, clock: Clock | None = None) -> Homeserver:
    clock = clock or SystemClock()
    db = Database(settings.sqlalchemy_url())
    notifier = Notifier()
    rl = settings.rate_limit
    tlog = TransparencyLog(db)
    access = AccessLog(db, tlog, clock)
    return Homeserver(
        settings=settings,
        db=db,
        clock=clock,
        token_key=settings.token_key(),
        notifier=notifier,
        persister=EventPersister(db, clock, notifier),
        ratelimiter=RateLimiter(
            clock, enabled=rl.enabled, per_second=rl.per_second, burst=rl.burst
        ),
        login_backoff=LoginBackoff(clock, settings.login_backoff),
        typing=TypingTracker(clock),
        tokens=TokenCache(),
        passwords=Passwords(settings.passwords),
        tlog=tlog,
        access=access,
        transparency=TransparencyService(
            db,
            tlog,
            access,
            load_or_create_signer(settings.data_dir, settings.transparency_origin()),
            clock,
            settings.transparency.checkpoint_interval_ms,
        ),
    )


def freeze_startup_heap() -> None:
    """Move everything alive after startup out of the garbage collector's sight.

    Why: modules, SQLAlchemy metadata and routes are hundreds of thousands of objects that
    live as long as the process; every full collection walked them all and stalled the
    event loop for 35-45 ms (measured in `bench/tlog.py`: the p99 of `record_access` with
    100 appenders). Frozen objects are never collected, so this runs once, when startup is
    done. https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    freeze_heap: bool = False,
    background: bool = False,
) -> FastAPI:
    """The ASGI app. `freeze_heap` is for a long-lived server (`candor serve`), not tests;
    `background` runs the report scheduler and webhook deliveries (if the settings allow)."""
    hs = build_homeserver(settings, clock)
    tlog, transparency = hs.tlog, hs.transparency
    scheduler = ReportScheduler(hs) if background and settings.reports.scheduler else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hs.persister.start()
        await tlog.start()
        await transparency.start()
        if scheduler is not None:
            await scheduler.start()
        if freeze_heap:
            freeze_startup_heap()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if scheduler is not None:
                await scheduler.stop()
            await transparency.stop()
            await tlog.stop()
            await hs.persister.stop()
            await hs.db.dispose()

    app = FastAPI(
        title="Candor",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/_candor/docs",
        openapi_url="/_candor/openapi.json",
        redoc_url=None,
    )
    app.state.homeserver = hs
    app.state.scheduler = scheduler
    app.state.transparency = transparency
    app.state.tlog = tlog
    app.state.tiles = TileService(hs.db, tlog)
    app.state.ready = False
    # Routes are matched in order: the hot paths (send, sync) come first.
    app.include_router(rooms_router, prefix=CLIENT_PREFIX)
    app.include_router(sync_router, prefix=CLIENT_PREFIX)
    app.include_router(accounts_router, prefix=CLIENT_PREFIX)
    app.include_router(devices_router, prefix=CLIENT_PREFIX)
    app.include_router(keys_router, prefix=CLIENT_PREFIX)
    app.include_router(to_device_router, prefix=CLIENT_PREFIX)
    app.include_router(room_keys_router, prefix=CLIENT_PREFIX)
    app.include_router(client_router, prefix=CLIENT_PREFIX)
    app.include_router(versions_router)
    app.include_router(transparency_router)
    app.include_router(admin_router)
    app.include_router(privacy_router)
    app.include_router(partners_router)
    app.include_router(partner_admin_router)
    app.include_router(oauth_router)
    app.include_router(partner_api_router)
    app.include_router(consent_router)
    app.include_router(inbox_router)
    app.include_router(share_router)
    app.include_router(reports_router)
    # Web pages (HTML, cookie sessions): not part of the API, so not in the OpenAPI document.
    app.state.web_keys = WebKeys.derive(hs.token_key)
    app.include_router(web_home_router)
    app.include_router(web_auth_router)
    app.include_router(web_privacy_router)
    app.include_router(web_grants_router)
    app.include_router(web_partners_router)
    app.include_router(web_portal_router)
    app.include_router(web_admin_router)
    app.include_router(web_oauth_router)
    app.include_router(web_apps_router)
    app.include_router(web_share_router)
    app.include_router(web_reports_router)
    app.include_router(web_my_shares_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health")
    async def health(request: Request) -> Response:
        if not request.app.state.ready:
            return json_response({"status": "starting"}, 503)
        return json_response({"status": "ok"})

    _install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.http.max_request_bytes)
    # Outside the body limit, so the pages it refuses carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)
    # Starlette's trailing-slash redirects name the request's Host: make them relative.
    app.add_middleware(RelativeRedirectMiddleware)
    return app


def _install_error_handlers(app: FastAPI) -> None:
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
        return json_response({"errcode": Codes.UNKNOWN, "error": "Internal server error"}, 500)


def _is_candor_api(request: Request) -> bool:
    return request.url.path.startswith("/_candor/")


def _errcode(request: Request, code: Codes) -> str:
    """Candor's own APIs use the same error shape with `CANDOR_…` codes."""
    if _is_candor_api(request):
        return "CANDOR_" + code.value.removeprefix("M_")
    return code.value


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 M_TOO_LARGE, before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _refuse(
                        scope, receive, send, 413, Codes.TOO_LARGE, "Request body too large"
                    )
                    return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse(
                scope, receive, send, 400, Codes.INVALID_PARAM, "NUL characters are not allowed"
            )
            return
        if scope["path"].startswith("/_matrix/"):
            # Matrix bodies are JSON whatever Content-Type a client sends (or omits).
            headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        seen = 0
        tail = b""
        # Every JSON body follows the canonical-JSON rules (core/json_body.py).
        check = JsonBodyCheck() if is_json_content(scope.get("headers", ())) else None

        async def limited_receive() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    raise CandorError("Request body too large", status=413, errcode=Codes.TOO_LARGE)
                # PostgreSQL text cannot hold NUL, and no Matrix string needs one: refuse
                # the escaped form anywhere in the body (it may straddle two chunks).
                window = (tail + chunk).lower()
                if b"\\u0000" in window:
                    raise CandorError(
                        "NUL characters are not allowed", status=400, errcode=Codes.BAD_JSON
                    )
                tail = window[-5:]
                if check is not None:
                    check.feed(chunk, more=message.get("more_body", False))
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, errcode: Codes, message: str
) -> None:
    """Answer before the app sees the request: the error page on web paths, else JSON."""
    if is_web_path(scope["path"]):
        await error_page(Request(scope), status, message)(scope, receive, send)
        return
    await _send_error(send, status, errcode, message)


async def _send_error(send: Send, status: int, errcode: Codes, message: str) -> None:
    body = json_dumps({"errcode": errcode.value, "error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
