"""A room of three whose members can share it with an app, and the app's token for alice."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from candor.partners.apps.rules import AgreementTerms
from tests.helpers.matrix import MatrixTestClient
from tests.partners.oauth.conftest import Client, OAuthEnv, env, query_of  # noqa: F401 - fixtures
from tests.web.conftest import WebEnv, settings, web  # noqa: F401 - fixtures

INBOX = "/partner/v1"


@dataclass
class Scene:
    env: OAuthEnv
    app: Client
    alice: MatrixTestClient
    bob: MatrixTestClient
    carol: MatrixTestClient
    room: str
    token: str  # alice's access token for the app (profile inbox.read)

    @property
    def api(self) -> httpx.AsyncClient:
        return self.env.api

    async def grant(self, *, history: bool = False) -> str:
        """alice asks, bob and carol accept: the grant is live."""
        r = await self.api.post(
            f"/_candor/v1/rooms/{self.room}/grants",
            json={"client_id": self.app.client_id, "include_history": history},
            headers=self.alice.headers,
        )
        assert r.status_code == 200, r.text
        grant_id: str = r.json()["grant_id"]
        for member in (self.bob, self.carol):
            r = await self.api.post(
                f"/_candor/v1/grants/{grant_id}/accept",
                json={"include_history": history},
                headers=member.headers,
            )
            assert r.status_code == 200, r.text
        return grant_id

    async def get(
        self, path: str, token: str | None = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = {} if token == "" else {"Authorization": f"Bearer {token or self.token}"}
        return await self.api.get(INBOX + path, headers=headers, params=params)

    async def records(self, user: MatrixTestClient | None = None) -> list[Any]:
        return await self.env.web.hs.access.list_for_user((user or self.alice).user_id)


async def make_app(oauth: OAuthEnv, scopes: str) -> Client:
    made = await oauth.apps.create(
        name="StreamFlix",
        homepage="https://flix.example",
        contact="privacy@flix.example",
        redirect_uris=["https://flix.example/cb"],
        domains=["flix.example"],
        scopes=scopes,
        public=False,
        terms=AgreementTerms("Recommend films to friends", "Conversations you share", 30),
        owner=None,
    )
    await oauth.apps.approve(made.app.client_id)
    return Client(made.app.client_id, made.client_secret)


async def token_for(oauth: OAuthEnv, client: Client, name: str, scope: str) -> str:
    """The person logs in and authorizes the app (a person who already consented to these
    scopes goes straight back to the app, without the consent page)."""
    browser = oauth.web.browser()
    r = await browser.login(name)
    assert r.status_code == 303, r.text
    flow = oauth.flow(client, scope=scope)
    first = await browser.get(flow.path)
    if first.status_code in (302, 303):
        code = query_of(first.headers["location"])["code"]
    else:
        code = await oauth.code(browser, flow)
    r = await oauth.exchange(flow, code)
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@pytest.fixture
async def scene(env: OAuthEnv) -> Scene:  # noqa: F811 - the imported fixture
    alice = await env.web.matrix_user("alice")
    bob = await env.web.matrix_user("bob")
    carol = await env.web.matrix_user("carol")
    room = await alice.create_room(preset="public_chat", name="film club")
    for member in (bob, carol):
        await member.join(room)
    app = await make_app(env, "profile inbox.read")
    token = await token_for(env, app, "alice", "profile inbox.read")
    return Scene(env, app, alice, bob, carol, room, token)
