"""The app in-process on both engines with a FakeClock, three people, and partner apps.

Rooms are made public (`public_chat`) so they are not end-to-end encrypted; the others
join by id. Apps are registered and approved through the real PartnerAppsService.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.partners.apps.rules import AgreementTerms
from candor.partners.consent.service import ConsentService
from candor.store.models.partners import RoomGrant, RoomGrantMember
from candor.wiring import Services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient

PASSWORD = "correct horse"
API = "/_candor/v1"


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
class Env:
    hs: Homeserver
    services: Services  # the app's own, so tests use the instances requests use
    clock: FakeClock
    transport: httpx.AsyncBaseTransport
    api: httpx.AsyncClient
    _browsers: list[WebTestClient] = field(default_factory=list)

    def browser(self) -> WebTestClient:
        client = WebTestClient(self.transport)
        self._browsers.append(client)
        return client

    @property
    def consent(self) -> ConsentService:
        return self.services.consent

    async def user(self, name: str) -> MatrixTestClient:
        return await MatrixTestClient.register(self.api, name, PASSWORD)

    async def app(
        self, *, name: str = "Flix", scopes: str = "profile inbox.read", approve: bool = True
    ) -> str:
        apps = self.services.apps
        new = await apps.create(
            name=name,
            homepage="https://flix.example",
            contact="privacy@flix.example",
            redirect_uris=["https://flix.example/cb"],
            domains=["flix.example"],
            scopes=scopes,
            public=False,
            terms=AgreementTerms("Recommend films to friends", "Messages of shared rooms"),
            owner=None,
        )
        if approve:
            await apps.approve(new.app.client_id)
        return new.app.client_id

    async def room(self, owner: MatrixTestClient, *others: MatrixTestClient) -> str:
        room_id = await owner.create_room(preset="public_chat", name="Film club")
        for other in others:
            await other.join(room_id)
        return room_id

    async def ask(
        self, who: MatrixTestClient, room_id: str, client_id: str, **body: Any
    ) -> httpx.Response:
        return await self.api.post(
            f"{API}/rooms/{room_id}/grants",
            json={"client_id": client_id, **body},
            headers=who.headers,
        )

    async def act(
        self, who: MatrixTestClient, grant_id: str, action: str, **kwargs: Any
    ) -> httpx.Response:
        return await self.api.post(
            f"{API}/grants/{grant_id}/{action}", headers=who.headers, **kwargs
        )

    async def grants(self, who: MatrixTestClient) -> list[dict[str, Any]]:
        r = await self.api.get(f"{API}/grants", headers=who.headers)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["grants"]
        return found

    async def grant(self, who: MatrixTestClient, grant_id: str) -> dict[str, Any]:
        return next(g for g in await self.grants(who) if g["grant_id"] == grant_id)

    async def counts(self) -> tuple[int, int]:
        async with self.hs.db.read() as conn:
            grants = await conn.scalar(select(func.count()).select_from(RoomGrant))
            members = await conn.scalar(select(func.count()).select_from(RoomGrantMember))
        return int(grants or 0), int(members or 0)


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    clock = FakeClock()
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as api:
            e = Env(app.state.homeserver, app.state.services, clock, transport, api)
            try:
                yield e
            finally:
                for browser in e._browsers:
                    await browser.aclose()


@pytest.fixture
async def alice(env: Env) -> MatrixTestClient:
    return await env.user("alice")


@pytest.fixture
async def bob(env: Env) -> MatrixTestClient:
    return await env.user("bob")


@pytest.fixture
async def carol(env: Env) -> MatrixTestClient:
    return await env.user("carol")


@pytest.fixture
async def flix(env: Env) -> str:
    return await env.app()
