"""The app in-process with an administrator `root` and people alice, bob and carol."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from candor.app import create_app
from candor.config import Settings
from candor.matrix.context import Homeserver
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

ADMIN_API = "/_candor/admin/v1"


@dataclass
class AdminEnv:
    hs: Homeserver
    http: httpx.AsyncClient
    admin: MatrixTestClient
    alice: MatrixTestClient
    bob: MatrixTestClient
    carol: MatrixTestClient

    async def get(
        self, who: MatrixTestClient | None, path: str, **params: str | int
    ) -> httpx.Response:
        headers = who.headers if who is not None else {}
        return await self.http.get(ADMIN_API + path, params=params, headers=headers)

    async def post(self, who: MatrixTestClient | None, path: str) -> httpx.Response:
        headers = who.headers if who is not None else {}
        return await self.http.post(ADMIN_API + path, headers=headers)


@asynccontextmanager
async def admin_env(settings: Settings) -> AsyncIterator[AdminEnv]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        hs: Homeserver = app.state.homeserver
        await app.state.services.accounts.create_user("root", "correct horse", admin=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as http:
            r = await http.post(
                "/_matrix/client/v3/login",
                json={"type": "m.login.password", "user": "root", "password": "correct horse"},
            )
            assert r.status_code == 200, r.text
            admin = MatrixTestClient(http, r.json()["user_id"], r.json()["access_token"], "ADM")
            yield AdminEnv(
                hs,
                http,
                admin,
                await MatrixTestClient.register(http, "alice"),
                await MatrixTestClient.register(http, "bob"),
                await MatrixTestClient.register(http, "carol"),
            )
