"""The one module that wraps authlib: its RFC 6749/7636/7009/7662 server, bridged to asyncio.

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

import base64
import binascii
import functools
import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    AuthorizationServer,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    RefreshTokenGrant,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from starlette.requests import Request
from starlette.responses import Response

from candor.partners.apps.rules import SCOPES
from candor.partners.apps.service import App
from candor.partners.errors import invalid
from candor.partners.oauth.service import (
    PROFILE_SCOPE,
    CodeRecord,
    IssuedToken,
    OAuthService,
    TokenRecord,
    granted_scopes,
)

T = TypeVar("T")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")
Params = dict[str, list[str]]


def _run(fn: Callable[..., Coroutine[Any, Any, T]], *args: object, **kwargs: object) -> T:
    """From authlib's worker thread, run a coroutine on the event loop and wait for it."""
    return anyio.from_thread.run(functools.partial(fn, *args, **kwargs))


# --- the framework side: requests in, responses out --------------------------------------


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """What authlib answered: a status, a JSON body (or none) and headers."""

    status: int
    body: Mapping[str, object] | None
    headers: tuple[tuple[str, str], ...]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    def to_response(self) -> Response:
        content = b"" if self.body is None else json.dumps(dict(self.body)).encode()
        response = Response(content, self.status, media_type="application/json")
        for name, value in self.headers:
            response.headers[name] = value
        return response


def _parse(text: str) -> Params:
    """Parse urlencoded parameters strictly; OAuth2Error (invalid_request) if unreadable."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("The parameters could not be read.") from None
    out: Params = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidRequestError("NUL characters are not allowed.")
        out.setdefault(name, []).append(value)
    return out


def _safe_authorization(value: str | None) -> str | None:
    """Drop a Basic header authlib could not decode (it would raise, not refuse)."""
    if value is None or not value[:6].lower().startswith("basic "):
        return value
    try:
        base64.b64decode(value[6:].strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    return value


class _Payload(OAuth2Payload):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, params: Params) -> None:
        self._datalist = params
        self._data = {k: v[0] for k, v in params.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> Params:
        return self._datalist


class CandorRequest(OAuth2Request):  # type: ignore[misc]  # authlib is untyped
    """An HTTP request as authlib reads it; `granted_scope` is what the person allowed."""

    def __init__(self, method: str, headers: dict[str, str], args: Params, form: Params) -> None:
        # TLS ends at the reverse proxy in front of Candor (docs/web.md), so authlib's
        # own https check, which sees only the inner hop, is given the public scheme.
        super().__init__(method, "https://candor.invalid/", headers=headers)
        self._form = {k: v[0] for k, v in form.items()}
        merged: Params = {k: list(v) for k, v in args.items()}
        for k, v in form.items():
            merged.setdefault(k, []).extend(v)
        self.payload = _Payload(merged)
        self.granted_scope = ""

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def read_request(request: Request, *, with_body: bool) -> CandorRequest:
    """Starlette → CandorRequest. Raises OAuth2Error (invalid_request) if unreadable."""
    args = _parse(request.url.query)
    form: Params = {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if with_body and content_type == FORM_CONTENT_TYPE:
        body = await request.body()
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidRequestError("The body must be urlencoded ASCII.") from None
        form = _parse(text)
    headers: dict[str, str] = {}
    auth = _safe_authorization(request.headers.get("authorization"))
    if auth is not None:
        headers["Authorization"] = auth
    return CandorRequest(request.method, headers, args, form)


def error_response(error: OAuth2Error) -> OAuthResponse:
    status, body, headers = error()
    return OAuthResponse(status, body if isinstance(body, dict) else None, tuple(headers))


# --- authlib's models over Candor's records ---------------------------------------------


class _Client(ClientMixin):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, app: App, oauth: OAuthService) -> None:
        self.app = app
        self.client_id = app.client_id
        self._oauth = oauth

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """Requested scopes must all be registered by the app; none asked means all."""
        if not scope:
            return " ".join(self.app.scopes)
        asked = scope.split()
        if any(s not in self.app.scopes for s in asked):
            return None
        return " ".join(s for s in self.app.scopes if s in asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return _run(self._oauth.check_secret, self.app, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.is_public_client:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class _Code:
    def __init__(self, record: CodeRecord) -> None:
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope


class _Token:
    def __init__(self, record: TokenRecord) -> None:
        self.record = record

    def check_client(self, client: _Client) -> bool:
        return self.record.client_id == client.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def is_expired(self) -> bool:
        if self.record.kind == "refresh_token":
            return self.record.refresh_used_ts is not None
        return self.record.expires_ts <= self.record.seen_ts

    def is_revoked(self) -> bool:
        return self.record.revoked_ts is not None


def _server(grant: Any) -> "_Server":  # Any: authlib's grant or endpoint
    server: _Server = grant.server
    return server


# --- grants and endpoints --------------------------------------------------------------


class _S256Required(CodeChallenge):  # type: ignore[misc]  # authlib is untyped
    """PKCE for every client (authlib alone requires it only of public clients)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]  # authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return _server(self).oauth.new_code()

    def save_authorization_code(self, code: str, request: CandorRequest) -> None:
        data = request.payload.data
        _run(
            _server(self).oauth.save_code,
            request.client.app,
            request.user,
            code,
            redirect_uri=data["redirect_uri"],
            scope=request.granted_scope,
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        record = _run(_server(self).oauth.find_code, code, client.client_id)
        return None if record is None else _Code(record)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing left to do: `save_token` spent the code atomically with the tokens."""

    def authenticate_user(self, authorization_code: _Code) -> str:
        return authorization_code.record.user_id


class _RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]  # authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation on every use

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        record = _run(_server(self).oauth.find_refresh, refresh_token)
        return None if record is None else _Token(record)

    def authenticate_user(self, refresh_token: _Token) -> str:
        return refresh_token.record.user_id

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        """Nothing left to do: `save_token` spent it atomically with its successor."""


class _TokenLookup:
    server: "_Server"

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        record = _run(self.server.oauth.find_token, token_string, token_type_hint)
        return None if record is None else _Token(record)


class _Revocation(_TokenLookup, RevocationEndpoint):  # type: ignore[misc]  # authlib is untyped
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def revoke_token(self, token: _Token, request: CandorRequest) -> None:
        _run(self.server.oauth.revoke, token.record)


class _Introspection(_TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]  # untyped
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def check_permission(self, token: _Token, client: _Client, request: CandorRequest) -> bool:
        """RFC 7662 §4: an app may introspect only its own tokens (others: active false)."""
        return token.record.client_id == client.client_id

    def introspect_token(self, token: _Token) -> dict[str, object]:
        """RFC 7662 §2.2; `sub` and `username` are optional there, and here they appear only
        for a token carrying `profile`: who the token speaks for is that scope's data, so an
        app the person did not allow to know them cannot learn it by introspecting."""
        r = token.record
        body: dict[str, object] = {
            "active": True,
            "client_id": r.client_id,
            "scope": r.scope,
            "iat": r.issued_ts // 1000,
            "iss": self.server.issuer,
        }
        if PROFILE_SCOPE in r.scope.split():
            body["sub"] = r.user_id
            body["username"] = r.user_id
        if r.kind == "access_token":
            body["token_type"] = "Bearer"  # noqa: S105 - a token type, not a secret
            body["exp"] = r.expires_ts // 1000
        return body


class _Server(AuthorizationServer):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, oauth: OAuthService, issuer: str) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.oauth = oauth
        self.issuer = issuer
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_CodeGrant, [_S256Required(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_Introspection)

    def query_client(self, client_id: str) -> _Client | None:
        app = _run(self.oauth.find_app, client_id)
        return None if app is None else _Client(app, self.oauth)

    def _generate_token(
        self,
        grant_type: str,
        client: _Client,
        user: str | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, object]:
        issued = self.oauth.new_tokens(scope or "")
        # Every grant here comes with a refresh token (both grant types allow refresh, and
        # the refresh grant rotates), so `include_refresh_token` is always true.
        return {
            "token_type": "Bearer",
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }

    def save_token(self, token: dict[str, Any], request: CandorRequest) -> None:
        issued = IssuedToken(
            token["access_token"], token.get("refresh_token"), token["scope"], token["expires_in"]
        )
        if request.refresh_token is not None:
            saved = _run(self.oauth.rotate, request.refresh_token.record, issued)
        else:
            saved = _run(self.oauth.exchange_code, request.authorization_code.record, issued)
        if not saved:
            raise InvalidGrantError("The grant was used already or has been revoked.")

    def create_oauth2_request(self, request: CandorRequest) -> CandorRequest:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> OAuthResponse:
        return OAuthResponse(status, body if isinstance(body, dict) else None, tuple(headers))

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """authlib's signals are for framework integrations; Candor listens to none."""


# --- what the HTTP layer calls -----------------------------------------------------------


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
        self._server = _Server(oauth, issuer)

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

    async def _validate(self, req: CandorRequest, user_id: str) -> Any:
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

        def validate() -> Any:
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
        self, req: CandorRequest, grant: Any, user_id: str | None, scope: str
    ) -> OAuthResponse:
        req.granted_scope = scope

        def respond() -> OAuthResponse:
            result: OAuthResponse = self._server.create_authorization_response(
                req, grant_user=user_id, grant=grant
            )
            return result

        return await anyio.to_thread.run_sync(respond)
