"""Sharing on both engines: the in-process app, three people, an approved app "Flix" on
flix.example with the `share` scope, and helpers that read the share tables."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from candor.share.service import ShareService
from candor.store.models.share import Share, ShareCard, ShareRecipient
from candor.wiring import build_services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.partners.oauth.conftest import Client, OAuthEnv, env, query_of  # noqa: F401 - fixtures
from tests.web.conftest import WebEnv, alice, bob, carol, settings, web  # noqa: F401 - fixtures

CARD = {
    "url": "https://watch.flix.example/title/42",
    "title": "The Long Night",
    "description": "A thriller, 2h",
    "interface": "web",
    "surface": "title_page",
    "variant": "b",
}


@dataclass
class Scene:
    env: OAuthEnv
    app: Client
    alice: MatrixTestClient
    bob: MatrixTestClient
    carol: MatrixTestClient

    @property
    def web(self) -> WebEnv:
        return self.env.web

    @property
    def share(self) -> ShareService:
        return build_services(self.web.hs).share

    def launcher(self, **overrides: str) -> str:
        return "/share?" + urlencode({"app_id": self.app.client_id, **CARD, **overrides})

    async def browser(self, who: MatrixTestClient) -> WebTestClient:
        b = self.web.browser()
        r = await b.login(who.user_id.split(":")[0].lstrip("@"))
        assert r.status_code == 303, r.text
        return b

    async def send(
        self, browser: WebTestClient, rooms: list[str], note: str = "", **overrides: str
    ) -> Any:
        page = await browser.get(self.launcher(**overrides))
        assert page.status_code == 200, page.text
        fields = {
            "csrf_token": csrf_token_in(page.text),
            "app_id": self.app.client_id,
            **CARD,
            **overrides,
            "note": note,
        }
        fields.update({f"room_{i}": r for i, r in enumerate(rooms)})
        return await browser.post_form("/share", fields)

    async def rows(self, model: Any) -> list[Any]:
        async with self.web.hs.db.read() as conn:
            return list((await conn.execute(select(model))).all())

    async def shares(self) -> list[Any]:
        return await self.rows(Share)

    async def cards(self) -> list[Any]:
        return await self.rows(ShareCard)

    async def recipients(self) -> dict[str, Any]:
        return {r.user_id: r for r in await self.rows(ShareRecipient)}


async def last_card(who: MatrixTestClient, room_id: str) -> dict[str, Any]:
    chunk = (await who.messages(room_id, dir="b", limit=5))["chunk"]
    event: dict[str, Any] = next(e for e in chunk if e["type"] == "m.room.message")
    return event


@pytest.fixture
async def scene(
    env: OAuthEnv,  # noqa: F811 - the imported fixture
    alice: MatrixTestClient,  # noqa: F811
    bob: MatrixTestClient,  # noqa: F811
    carol: MatrixTestClient,  # noqa: F811
) -> Scene:
    app = await env.client(scopes="profile share")
    return Scene(env, app, alice, bob, carol)


__all__ = ["CARD", "Scene", "last_card", "query_of"]
