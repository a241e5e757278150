"""The ASGI app: the parts from the composition root (candor/wiring.py), every router, the
error mapping (errors.py) and the request guards (body_limit.py)."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.telemetry import TelemetryConfig
from starlette.staticfiles import StaticFiles

from candor.app.body_limit import BodyLimitMiddleware
from candor.app.cors import CorsMiddleware
from candor.app.errors import install_error_handlers
from candor.config import Settings
from candor.core.clock import Clock
from candor.matrix.accounts.endpoints import router as accounts_router
from candor.matrix.accounts.token_endpoints import federation_router as openid_federation_router
from candor.matrix.accounts.token_endpoints import router as account_tokens_router
from candor.matrix.accounts.token_endpoints import v1_router as account_tokens_v1_router
from candor.matrix.admin.endpoints import router as admin_router
from candor.matrix.client.endpoints import router as client_router
from candor.matrix.client.endpoints import versions_router
from candor.matrix.client.refusals import router as refusals_router
from candor.matrix.deactivation.endpoints import router as deactivation_router
from candor.matrix.devices.endpoints import router as devices_router
from candor.matrix.http import json_response
from candor.matrix.keys.endpoints import router as keys_router
from candor.matrix.keys.endpoints import unstable_router as keys_unstable_router
from candor.matrix.media.endpoints import client_router as client_media_router
from candor.matrix.media.endpoints import router as media_router
from candor.matrix.moderation.endpoints import admin_v1_router as moderation_admin_router
from candor.matrix.moderation.endpoints import queue_router as report_queue_router
from candor.matrix.moderation.endpoints import router as moderation_router
from candor.matrix.presence.endpoints import router as presence_router
from candor.matrix.privacy.endpoints import router as privacy_router
from candor.matrix.push.endpoints import router as push_router
from candor.matrix.relations.endpoints import router as relations_router
from candor.matrix.room_keys.endpoints import router as room_keys_router
from candor.matrix.rooms.endpoints import router as rooms_router
from candor.matrix.rooms.endpoints import v1_router as rooms_v1_router
from candor.matrix.search.endpoints import router as search_router
from candor.matrix.sync.endpoints import router as sync_router
from candor.matrix.sync.endpoints import v1_router as sync_v1_router
from candor.matrix.sync.parking import LongPollParking
from candor.matrix.to_device.endpoints import router as to_device_router
from candor.matrix.user_directory.endpoints import router as user_directory_router
from candor.partners.admin.endpoints import router as partner_admin_router
from candor.partners.apps.endpoints import router as partners_router
from candor.partners.consent.endpoints import router as consent_router
from candor.partners.inbox.endpoints import router as inbox_router
from candor.partners.oauth.endpoints import partner_router as partner_api_router
from candor.partners.oauth.endpoints import router as oauth_router
from candor.reports.endpoints import router as reports_router
from candor.share.endpoints import router as share_router
from candor.transparency.endpoints import router as transparency_router
from candor.web.own_origin import RelativeRedirectMiddleware
from candor.web.routes.admin import router as web_admin_router
from candor.web.routes.admin_reports import router as web_admin_reports_router
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
from candor.web.security import SecurityHeadersMiddleware
from candor.web.sessions import WebKeys
from candor.web.templating import STATIC_DIR
from candor.wiring import (
    build_homeserver,
    build_push_worker,
    build_report_scheduler,
    build_services,
)

logger = logging.getLogger(__name__)

# Matched in order: the hot paths (send, sync) come first. Every router carries its own
# prefix, and the app takes their routes themselves, not `include_router`: FastAPI 0.16x
# builds an included router's routes lazily for each app, on the first request that
# reaches them (about 25 ms of pydantic and signature work per app). The route objects
# hold no app state (handlers find the app's services through the request), so one
# process builds them once, whatever the number of apps (the test suite makes thousands).
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}

ROUTES = tuple(
    route
    for router in (
        # First: /sync is every client's hot loop, and routes are matched in order.
        sync_router,
        sync_v1_router,
        rooms_router,
        rooms_v1_router,
        accounts_router,
        deactivation_router,
        account_tokens_router,
        account_tokens_v1_router,
        openid_federation_router,
        devices_router,
        keys_router,
        keys_unstable_router,
        to_device_router,
        room_keys_router,
        user_directory_router,
        media_router,
        client_media_router,
        client_router,
        push_router,
        presence_router,
        relations_router,
        search_router,
        versions_router,
        refusals_router,
        transparency_router,
        admin_router,
        moderation_router,
        moderation_admin_router,
        report_queue_router,
        privacy_router,
        partners_router,
        partner_admin_router,
        oauth_router,
        partner_api_router,
        consent_router,
        inbox_router,
        share_router,
        reports_router,
        web_home_router,
        web_auth_router,
        web_privacy_router,
        web_grants_router,
        web_partners_router,
        web_portal_router,
        web_admin_router,
        web_admin_reports_router,
        web_oauth_router,
        web_apps_router,
        web_share_router,
        web_reports_router,
        web_my_shares_router,
    )
    for route in router.routes
)


_YOUNG_COLLECTION_EVERY = 20_000


def freeze_startup_heap() -> None:
    """Move everything alive after startup out of the garbage collector's sight.

    Why: modules, SQLAlchemy metadata and routes are hundreds of thousands of objects that
    live as long as the process; every full collection walked them all and stalled the
    event loop for 35-45 ms (measured in `bench/tlog.py`: the p99 of `record_access` with
    100 appenders). Frozen objects are never collected, so this runs once, when startup is
    done. https://docs.python.org/3/library/gc.html#gc.freeze

    The youngest generation is then collected every 20,000 allocations rather than 700: a
    request makes hundreds of short-lived containers that reference counting frees, and
    each young collection walked them for nothing (`bench/scale.py`, 256 listeners: 0.41
    against 0.42 ms of server CPU per delivery, two interleaved pairs).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    freeze_heap: bool = False,
    background: bool = False,
) -> FastAPI:
    """The ASGI app. `freeze_heap` is for a long-lived server (`candor serve`), not tests;
    `background` runs the report scheduler and webhook deliveries (if the settings allow)
    and the push gateway worker."""
    hs = build_homeserver(settings, clock)
    services = build_services(hs)
    tlog, transparency = hs.tlog, hs.transparency
    scheduler = (
        build_report_scheduler(hs, services) if background and settings.reports.scheduler else None
    )
    pushes = build_push_worker(hs, services) if background else None
    if pushes is not None:
        hs.push.set_on_queued(pushes.wake)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await hs.notifier.start()
        await hs.persister.start()
        await services.media.start()
        await tlog.start()
        await transparency.start()
        if scheduler is not None:
            await scheduler.start()
        if pushes is not None:
            await pushes.start()
        if freeze_heap:
            freeze_startup_heap()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if pushes is not None:
                await pushes.stop()
            if scheduler is not None:
                await scheduler.stop()
            await transparency.stop()
            await tlog.stop()
            await hs.persister.stop()
            await hs.notifier.stop()
            await hs.ratelimiter.close()
            await hs.login_backoff.close()
            await hs.db.dispose()

    app = FastAPI(
        title="Candor",
        version="0.1.0",
        routes=list(ROUTES),
        lifespan=lifespan,
        # FastAPI reports every request (path, status, timing) to OpenTelemetry when a
        # provider is configured, and configures one from the environment on request
        # (FASTAPI_OTEL_AUTO_CONFIGURE). Room and event ids in paths are not for export:
        # off whatever the environment says, which also spares each request the checks.
        telemetry=NO_TELEMETRY,
        docs_url="/_candor/docs",
        openapi_url="/_candor/openapi.json",
        redoc_url=None,
    )
    app.state.homeserver = hs
    app.state.scheduler = scheduler
    app.state.pushes = pushes
    app.state.transparency = transparency
    app.state.tlog = tlog
    app.state.tiles = services.tiles
    app.state.services = services
    app.state.provided = services.by_type()
    app.state.ready = False
    # Web pages (HTML, cookie sessions) are not part of the API: their routers leave them out
    # of the OpenAPI document.
    app.state.web_keys = WebKeys.derive(hs.token_key)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health")
    async def health(request: Request) -> Response:
        if not request.app.state.ready:
            return json_response({"status": "starting"}, 503)
        return json_response({"status": "ok"})

    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.http.max_request_bytes,
        max_upload_bytes=settings.media.max_upload_bytes,
    )
    # Outside the body limit, so the pages it refuses carry the headers too.
    app.add_middleware(SecurityHeadersMiddleware)
    # Starlette's trailing-slash redirects name the request's Host: make them relative.
    app.add_middleware(RelativeRedirectMiddleware)
    # Outermost: preflights are answered before anything else, and every answer on the open
    # APIs, the guards' refusals included, carries the CORS headers.
    app.add_middleware(CorsMiddleware)
    # Outside even Starlette's error middleware: idle /sync long-polls wait here, with the
    # request's whole call stack unwound (matrix/sync/parking.py).
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: LongPollParking(build_stack())  # type: ignore[method-assign]
    return app
