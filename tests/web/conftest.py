"""The app in-process on both engines, with browsers (cookie jars) and Matrix clients.

Checkpoints are made by hand here (the background checkpointer waits an hour), so a test
decides when a record stops being "pending"; time is a FakeClock, so a test can let a
session expire.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.matrix.web_sessions.service import WebSessionsService
from candor.wiring import Services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient

PASSWORD = "correct horse"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": False},
        transparency={"checkpoint_interval_ms": 3_600_000},
        http={"public_base_url": "http://test.local"},
    )


@dataclass
class WebEnv:
    hs: Homeserver
    services: Services
    clock: FakeClock
    transport: httpx.AsyncBaseTransport
    api: httpx.AsyncClient
    _browsers: list[WebTestClient] = field(default_factory=list)

    def browser(self, base_url: str = "http://test.local") -> WebTestClient:
        """A new browser with an empty cookie jar."""
        client = WebTestClient(self.transport, base_url)
        self._browsers.append(client)
        return client

    @property
    def sessions(self) -> WebSessionsService:
        return self.services.web_sessions

    async def matrix_user(self, name: str) -> MatrixTestClient:
        return await MatrixTestClient.register(self.api, name, PASSWORD)

    async def admin(self, name: str = "root") -> MatrixTestClient:
        await self.services.accounts.create_user(name, PASSWORD, admin=True)
        r = await self.api.post(
            "/_matrix/client/v3/login",
            json={"type": "m.login.password", "user": name, "password": PASSWORD},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        return MatrixTestClient(self.api, body["user_id"], body["access_token"], body["device_id"])


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[WebEnv]:
    clock = FakeClock()
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as api:
            env = WebEnv(app.state.homeserver, app.state.services, clock, transport, api)
            try:
                yield env
            finally:
                for browser in env._browsers:
                    await browser.aclose()


@pytest.fixture
async def alice(web: WebEnv) -> MatrixTestClient:
    return await web.matrix_user("alice")


@pytest.fixture
async def bob(web: WebEnv) -> MatrixTestClient:
    return await web.matrix_user("bob")


@pytest.fixture
async def carol(web: WebEnv) -> MatrixTestClient:
    return await web.matrix_user("carol")
