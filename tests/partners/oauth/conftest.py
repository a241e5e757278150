"""The app in-process on both engines, partner apps, browsers, and the OAuth steps.

`OAuthEnv` drives the authorization code flow the way a browser and a client would:
GET /oauth/authorize (as a logged-in browser), POST the consent form with its CSRF
token, read the code from the Location, then POST /oauth/token as the client.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import NewApp, PartnerAppsService
from candor.partners.oauth.bearer import BearerService
from candor.partners.oauth.connected import ConnectedAppsService
from candor.partners.oauth.service import OAuthService
from candor.wiring import build_services
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.web.conftest import WebEnv, settings, web  # noqa: F401 - fixtures

REDIRECT = "https://flix.example/cb"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Client:
    """A registered app as its developer holds it."""

    client_id: str
    secret: str | None
    redirect_uri: str = REDIRECT

    def auth(self) -> dict[str, Any]:
        """httpx keyword arguments for client_secret_basic (or none for public apps)."""
        if self.secret is None:
            return {}
        return {"auth": (self.client_id, self.secret)}

    def form(self, **fields: str) -> dict[str, str]:
        return fields if self.secret is not None else {"client_id": self.client_id, **fields}


@dataclass
class Flow:
    client: Client
    verifier: str
    params: dict[str, str]

    @property
    def path(self) -> str:
        return "/oauth/authorize?" + urlencode(self.params)


@dataclass
class OAuthEnv:
    web: WebEnv

    @property
    def api(self) -> httpx.AsyncClient:
        return self.web.api

    @property
    def apps(self) -> PartnerAppsService:
        return build_services(self.web.hs).apps

    @property
    def oauth(self) -> OAuthService:
        return build_services(self.web.hs).oauth

    @property
    def bearer(self) -> BearerService:
        return build_services(self.web.hs).bearer

    @property
    def connected(self) -> ConnectedAppsService:
        return build_services(self.web.hs).connected_apps

    async def client(
        self, *, approve: bool = True, public: bool = False, scopes: str = "profile share"
    ) -> Client:
        made: NewApp = await self.apps.create(
            name="Flix",
            homepage="https://flix.example",
            contact="privacy@flix.example",
            redirect_uris=[REDIRECT, "http://127.0.0.1:8123/cb"],
            domains=["flix.example"],
            scopes=scopes,
            public=public,
            terms=AgreementTerms("Recommend films to friends", "Share and click counts", 45),
            owner=None,
        )
        if approve:
            await self.apps.approve(made.app.client_id)
        return Client(made.app.client_id, made.client_secret)

    def flow(self, client: Client, **overrides: str | None) -> Flow:
        verifier, challenge = pkce()
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "profile share",
            "state": "xyz-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return Flow(client, verifier, {k: v for k, v in params.items() if v is not None})

    async def person(self, name: str = "alice") -> WebTestClient:
        """A registered person, logged in in a fresh browser."""
        await self.web.matrix_user(name)
        browser = self.web.browser()
        r = await browser.login(name)
        assert r.status_code == 303, r.text
        return browser

    async def answer(
        self,
        browser: WebTestClient,
        flow: Flow,
        decision: str = "allow",
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Open the consent page and press Allow/Deny (optional scopes stay ticked)."""
        page = await browser.get(flow.path)
        assert page.status_code == 200, page.text
        fields = {"csrf_token": csrf_token_in(page.text), "decision": decision}
        for scope in flow.params.get("scope", "").split():
            fields[f"scope:{scope}"] = "on"
        fields.update(extra or {})
        return await browser.post_form(flow.path, fields)

    async def code(self, browser: WebTestClient, flow: Flow) -> str:
        r = await self.answer(browser, flow)
        assert r.status_code == 303, r.text
        found = query_of(r.headers["location"])
        assert found["state"] == flow.params["state"]
        return found["code"]

    async def fresh_code(self) -> tuple[Flow, str]:
        """A new client's flow and the code alice's consent gave it."""
        flow = self.flow(await self.client())
        return flow, await self.code(await self.person(), flow)

    async def exchange(self, flow: Flow, code: str, **overrides: str) -> httpx.Response:
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.client.redirect_uri,
            "code_verifier": flow.verifier,
            **overrides,
        }
        return await self.api.post(
            "/oauth/token", data=flow.client.form(**fields), **flow.client.auth()
        )

    async def tokens(self, client: Client, browser: WebTestClient | None = None) -> dict[str, Any]:
        browser = browser or await self.person()
        flow = self.flow(client)
        r = await self.exchange(flow, await self.code(browser, flow))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def refresh(self, client: Client, refresh_token: str) -> httpx.Response:
        return await self.api.post(
            "/oauth/token",
            data=client.form(grant_type="refresh_token", refresh_token=refresh_token),
            **client.auth(),
        )

    async def me(self, access_token: str) -> httpx.Response:
        return await self.api.get(
            "/partner/v1/me", headers={"Authorization": f"Bearer {access_token}"}
        )


@pytest.fixture
def env(web: WebEnv) -> OAuthEnv:  # noqa: F811 - the imported fixture
    return OAuthEnv(web)
