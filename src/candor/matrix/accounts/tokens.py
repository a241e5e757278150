"""Signing in another device (`POST /login/get_token`) and OpenID tokens.

A login token lets a signed-in person sign in a second device without typing the password
there: the first device asks for one after UIA (the spec: every time, never skipped; here
the password, as Candor's UIA is stateless), and the second logs in with `m.login.token`
(`AccountsService.login`). It is single use, lives `accounts.login_token_lifetime_ms`, and
issuing one is rate limited at five times a normal request's cost.
https://spec.matrix.org/v1.16/client-server-api/#post_matrixclientv1loginget_token

An OpenID token proves "I am @alice:server" to a third party (a widget, an integration
manager) without handing it an access token: the third party asks
`GET /_matrix/federation/v1/openid/userinfo` and learns the user id and nothing else.
https://spec.matrix.org/v1.16/client-server-api/#openid
"""

from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.tokens import hash_token, new_token
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.refresh import LOGIN_TOKEN, OPENID_TOKEN
from candor.matrix.accounts.schemas import AuthDict
from candor.matrix.accounts.service import AccountsService
from candor.matrix.errors import Codes, Forbidden, MatrixError, UnknownToken
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.store.db import Database

LOGIN_TOKEN_PREFIX = "cdr_lt_"  # noqa: S105 - the token kind prefix, not a secret
OPENID_TOKEN_PREFIX = "cdr_oi_"  # noqa: S105 - the token kind prefix, not a secret
# A login token costs five normal requests of the person's bucket.
GET_TOKEN_COST = 5


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in_ms: int


class TokensService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        token_key: bytes,
        accounts: AccountsService,
        ratelimiter: RateLimiter,
        get_login_token: bool,
        login_token_lifetime_ms: int,
        openid_token_lifetime_ms: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._token_key = token_key
        self._accounts = accounts
        self._ratelimiter = ratelimiter
        self.get_login_token_enabled = get_login_token
        self._login_lifetime_ms = login_token_lifetime_ms
        self._openid_lifetime_ms = openid_token_lifetime_ms
        self.server_name = accounts.server_name

    async def get_login_token(self, requester: Requester, auth: AuthDict | None) -> IssuedToken:
        """A single-use login token for the requester, after their password (UIA)."""
        if not self.get_login_token_enabled:
            raise MatrixError(400, Codes.UNKNOWN, "Signing in other devices is turned off")
        await self._accounts.check_password_auth(requester, auth)
        await self._ratelimiter.check(f"get_token:{requester.user_id}", GET_TOKEN_COST)
        return await self._issue(LOGIN_TOKEN_PREFIX, LOGIN_TOKEN, requester.user_id)

    async def openid_token(self, requester: Requester, user_id: str) -> IssuedToken:
        if user_id != requester.user_id:
            raise Forbidden("You may only request OpenID tokens for yourself")
        return await self._issue(OPENID_TOKEN_PREFIX, OPENID_TOKEN, requester.user_id)

    async def openid_user(self, token: str) -> str:
        """The user an unexpired OpenID token names, or UnknownToken."""
        async with self._db.read() as conn:
            user_id = await repo.take_short_lived_token(
                conn,
                hash_token(token, self._token_key),
                OPENID_TOKEN,
                self._clock.now_ms(),
                single_use=False,
            )
        if user_id is None:
            raise UnknownToken("Unknown or expired OpenID token")
        return user_id

    async def registration_token_valid(self, token: str, address: str | None) -> bool:
        """Candor has no registration tokens (registration is open or closed, no token
        flow), so none is valid; with registration closed the spec's 403 M_FORBIDDEN.
        Limited per client address, from the /register bucket (the spec: brute force)."""
        if not self._accounts.registration_enabled:
            raise Forbidden("Registration is not enabled on this homeserver")
        if address is not None:
            await self._ratelimiter.check(f"register:{address}")
        return False

    async def _issue(self, prefix: str, kind: str, user_id: str) -> IssuedToken:
        lifetime = self._login_lifetime_ms if kind == LOGIN_TOKEN else self._openid_lifetime_ms
        token = new_token(prefix)
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await repo.delete_expired_short_lived_tokens(conn, user_id, now)
            await repo.add_short_lived_token(
                conn, hash_token(token, self._token_key), kind, user_id, now + lifetime
            )
        return IssuedToken(token, lifetime)
