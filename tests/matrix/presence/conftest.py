"""Presence tests run on an app with presence enabled (it is off by default) and a clock
the test moves, so going idle and offline can be checked without waiting."""

from collections.abc import AsyncIterator

import httpx
import pytest

from candor.app import create_app
from candor.config import PresenceSettings, Settings
from candor.core.clock import FakeClock
from tests.helpers.spec import spec_event_hooks


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence": PresenceSettings(enabled=True)})


@pytest.fixture
async def http(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client
