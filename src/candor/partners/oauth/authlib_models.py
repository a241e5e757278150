"""authlib's model classes over Candor's records: the client, code and token models, the two
grants (authorization code with PKCE, rotating refresh token) and the revocation and
introspection endpoints, bound into one authlib `AuthorizationServer`.

Why apart from the request adapter (`adapter.py`) and the HTTP-facing `OAuthServer`
(`server.py`): these are authlib's extension points, called back from a worker thread;
each reaches the async code and token store (`service.py`) through `_run` on the event
loop. They hold Candor's policy where authlib asks for it (S256 for every client, codes
spent with the first tokens, rotation on every refresh).
"""

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeGrant,
    AuthorizationServer,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from candor.partners.apps.rules import SCOPES
from candor.partners.apps.service import App
from candor.partners.oauth.adapter import CandorRequest, OAuthResponse
from candor.partners.oauth.service import (
    PROFILE_SCOPE,
    CodeRecord,
    IssuedToken,
    OAuthService,
    TokenRecord,
)

T = TypeVar("T")
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
GRANT_TYPES = ("authorization_code", "refresh_token")


# Any: a coroutine's send and yield types, which `_run` never uses.
def _run(fn: Callable[..., Coroutine[Any, Any, T]], *args: object, **kwargs: object) -> T:
    """From authlib's worker thread, run a coroutine on the event loop and wait for it."""
    return anyio.from_thread.run(functools.partial(fn, *args, **kwargs))


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


def _server(grant: Any) -> "AuthlibServer":  # Any: authlib's grant or endpoint
    server: AuthlibServer = grant.server
    return server


# --- grants and endpoints --------------------------------------------------------------


class _S256Required(CodeChallenge):  # type: ignore[misc]  # authlib is untyped
    """PKCE for every client (authlib alone requires it only of public clients)."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    # Any: authlib's grant (untyped).
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
    server: "AuthlibServer"

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


class AuthlibServer(AuthorizationServer):  # type: ignore[misc]  # authlib is untyped
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

    # Any: the token authlib generated (`_generate_token`'s dict, as authlib passes it).
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
        self,
        status: int,
        body: Any,  # Any: authlib's answer body (a dict, or a string for redirects)
        headers: list[tuple[str, str]],
    ) -> OAuthResponse:
        return OAuthResponse(status, body if isinstance(body, dict) else None, tuple(headers))

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """authlib's signals are for framework integrations; Candor listens to none."""
