"""Candor's OAuth 2.0 authorization server, as the HTTP layer calls it: authlib's RFC
6749/7636/7009/7662 server bridged to asyncio. Three modules wrap authlib: this one (what
endpoints and pages call), `adapter.py` (Starlette request in, authlib answer out) and
`authlib_models.py` (authlib's client, code, token, grant and endpoint classes).

authlib's framework-agnostic server is synchronous and calls back for clients, codes and
tokens. Candor runs each authlib call in a worker thread (`anyio.to_thread.run_sync`), and
the callbacks reach the async database through `anyio.from_thread.run` on the event loop.
(The rejected alternative, pre-loading everything authlib might ask for, would duplicate
authlib's decisions about *which* callbacks run, and could not spend a code or rotate a
refresh token atomically at the moment authlib decides to issue tokens.)

Candor's policy on top of authlib:
- PKCE S256 is required of every client, public or confidential; `plain` is refused.
- The client and the exact redirect URI are checked before authlib sees an authorization
  request; until both are valid, errors are shown to the person (an HTML page), never
  sent to a redirect URI (no open redirect).
- Codes are single use, spent atomically with the first tokens (`exchange_code`); refresh
  tokens rotate on every use, and a reused one ends its family (`find_refresh`, `rotate`).
- Wire errors are RFC 6749 §5.2 JSON (`{"error", "error_description"}`), as authlib makes
  them: that is the OAuth wire format, not Candor's `CANDOR_…` shape.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from authlib.oauth2.rfc6749 import OAuth2Error, UnsupportedResponseTypeError
from starlette.requests import Request

from candor.partners.apps.rules import SCOPES
from candor.partners.apps.service import App
from candor.partners.errors import invalid
from candor.partners.oauth.adapter import (
    CandorRequest,
    OAuthResponse,
    error_response,
    read_request,
)
from candor.partners.oauth.authlib_models import AUTH_METHODS, GRANT_TYPES, AuthlibServer
from candor.partners.oauth.service import OAuthService, granted_scopes


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """An authorization request that needs the person's answer on the consent page."""

    app: App
    scopes: tuple[str, ...]
    required: frozenset[str]


class OAuthServer:
    """Candor's OAuth 2.0 authorization server, per request (it holds no state)."""

    def __init__(self, oauth: OAuthService, issuer: str) -> None:
        self.oauth = oauth
        self.issuer = issuer
        self._server = AuthlibServer(oauth, issuer)

    async def _call(self, fn: Callable[[], OAuthResponse]) -> OAuthResponse:
        return await anyio.to_thread.run_sync(fn)

    async def token(self, request: Request) -> OAuthResponse:
        """RFC 6749 §3.2: authorization_code (+ PKCE verifier) and refresh_token grants."""
        try:
            req = await read_request(request, with_body=True)
        except OAuth2Error as error:
            return error_response(error)
        return await self._call(lambda: self._server.create_token_response(req))

    async def endpoint(self, name: str, request: Request) -> OAuthResponse:
        """RFC 7009 revocation ("revocation") or RFC 7662 introspection ("introspection")."""
        try:
            req = await read_request(request, with_body=True)
        except OAuth2Error as error:
            return error_response(error)
        return await self._call(lambda: self._server.create_endpoint_response(name, req))

    def metadata(self) -> dict[str, object]:
        """RFC 8414 server metadata."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/oauth/authorize",
            "token_endpoint": f"{self.issuer}/oauth/token",
            "revocation_endpoint": f"{self.issuer}/oauth/revoke",
            "introspection_endpoint": f"{self.issuer}/oauth/introspect",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": f"{self.issuer}/partners",
        }

    # --- the authorization endpoint (a web page) ---------------------------------------

    async def authorization_target(self, request: Request) -> tuple[CandorRequest, App]:
        """The request and its app, once the client and the exact redirect URI are valid.

        Until then nothing may be sent to any redirect URI: errors are PartnerErrors,
        which the web layer shows as an error page (RFC 6749 §4.1.2.1).
        """
        try:
            req = await read_request(request, with_body=False)
        except OAuth2Error:
            raise invalid("This sign-in link could not be read.") from None
        params = req.payload.datalist
        client_ids = params.get("client_id", [])
        uris = params.get("redirect_uri", [])
        if len(client_ids) != 1:
            raise invalid("This sign-in link does not name one app (client_id).")
        app = await self.oauth.find_app(client_ids[0])
        if app is None:
            raise invalid("This app is unknown, or not approved to ask for access.")
        if len(uris) != 1 or uris[0] not in app.redirect_uris:
            raise invalid("This sign-in link's return address is not registered by the app.")
        return req, app

    async def _validate(self, req: CandorRequest, user_id: str) -> Any:  # Any: authlib's grant
        """authlib's validation of the authorization request (scope, PKCE, state…).

        Returns the grant, or an OAuthResponse redirecting the error to the client.
        """
        data = req.payload.data
        if req.payload.datalist.get("response_type") != ["code"]:
            error = UnsupportedResponseTypeError(
                response_type="",
                description="The only response type is 'code'.",
                state=data.get("state"),
                redirect_uri=data["redirect_uri"],
            )
            return error_response(error)

        def validate() -> Any:  # Any: authlib's grant, or an OAuthResponse
            try:
                return self._server.get_consent_grant(req, end_user=user_id)
            except OAuth2Error as error:
                return self._server.handle_error_response(req, error)

        result = await anyio.to_thread.run_sync(validate)
        if isinstance(result, OAuthResponse) and result.location is None:
            # Repeated parameters: authlib answers without redirecting; show the person.
            raise invalid("This sign-in link repeats a parameter.")
        return result

    async def begin(
        self, req: CandorRequest, app: App, user_id: str
    ) -> ConsentRequest | OAuthResponse:
        """Validate an authorization request: the consent page to show, or a redirect.

        A person who already allowed these scopes under the app's current agreement is
        sent straight back with a code; an older agreement version asks again.
        """
        grant = await self._validate(req, user_id)
        if isinstance(grant, OAuthResponse):
            return grant
        scopes = tuple(req.scope.split())
        if await self.oauth.has_consent(app, user_id, scopes):
            return await self._respond(req, grant, user_id, " ".join(scopes))
        required = frozenset(s for s in scopes if s in granted_scopes(scopes, ()))
        return ConsentRequest(app, scopes, required)

    async def decide(
        self, req: CandorRequest, user_id: str, *, allow: bool, ticked: list[str]
    ) -> OAuthResponse:
        """The person's answer: Allow (with the ticked scopes) issues a code, Deny (or
        allowing nothing) sends `access_denied`; either way with `state`, by 303."""
        grant = await self._validate(req, user_id)
        if isinstance(grant, OAuthResponse):
            return grant
        granted = granted_scopes(req.scope.split(), ticked) if allow else []
        response = await self._respond(req, grant, user_id if granted else None, " ".join(granted))
        # A form POST answered by 303: the browser follows with a GET (RFC 9110 §15.4.4).
        return OAuthResponse(
            303 if response.status == 302 else response.status, response.body, response.headers
        )

    async def _respond(
        self,
        req: CandorRequest,
        grant: Any,  # Any: authlib's grant
        user_id: str | None,
        scope: str,
    ) -> OAuthResponse:
        req.granted_scope = scope

        def respond() -> OAuthResponse:
            result: OAuthResponse = self._server.create_authorization_response(
                req, grant_user=user_id, grant=grant
            )
            return result

        return await anyio.to_thread.run_sync(respond)
