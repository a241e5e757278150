"""Web sessions: a browser login that lives on the server, so logging out really ends it.

A session is a random `cdr_ws_` token; only its keyed SHA-256 is stored (DESIGN invariant
6), so a database dump yields no cookie anyone can replay. Logging in always mints a new
token and deletes the one the browser held (no session fixation); logging out deletes
the row, after which the old cookie is worth nothing. The cookie itself (signing, flags)
is the web layer's business; this service sees only tokens.
"""

from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.tokens import hash_token, is_well_formed, new_token
from candor.matrix.accounts.schemas import AuthDict, RegisterBody
from candor.matrix.accounts.service import AccountsService
from candor.matrix.constants import LoginType
from candor.matrix.errors import Forbidden, LoginLocked
from candor.matrix.web_sessions import repository as repo
from candor.store.db import Database

SESSION_TOKEN_PREFIX = "cdr_ws_"  # noqa: S105 - the token kind prefix, not a secret
SESSION_LIFETIME_MS = 14 * 24 * 3600 * 1000
# last_seen is informative only: refresh it at most this often, not on every page view.
LAST_SEEN_GRANULARITY_MS = 10 * 60 * 1000


class WebAccountLocked(CandorError):
    """The right password for a locked account: said plainly, since only its owner knows
    the password."""

    status = 403
    errcode = "CANDOR_ACCOUNT_LOCKED"

    def __init__(self) -> None:
        super().__init__("This account has been locked by the server's administrators")


class LoginFailed(CandorError):
    """Wrong username or password, told apart from nothing else (no account enumeration)."""

    status = 400
    errcode = "CANDOR_LOGIN_FAILED"

    def __init__(self) -> None:
        super().__init__("Invalid username or password")


@dataclass(frozen=True, slots=True)
class NewWebSession:
    token: str
    user_id: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class WebSessionInfo:
    user_id: str
    is_admin: bool
    expires_ms: int


class WebSessionsService:
    def __init__(
        self, db: Database, clock: Clock, accounts: AccountsService, token_key: bytes
    ) -> None:
        self._db = db
        self._clock = clock
        self._accounts = accounts
        self._token_key = token_key

    def _hash(self, token: str) -> str:
        return hash_token(token, self._token_key)

    async def login(
        self,
        username: str,
        password: str,
        *,
        address: str | None = None,
        replacing: str | None = None,
    ) -> NewWebSession:
        """Check the password and start a fresh session; `replacing` (the browser's
        current session token, if any) is ended in the same transaction. `address` is the
        browser's, for the failed-login back-off.

        Raises LoginFailed for bad credentials and LimitExceeded past the login rate
        limit; nothing is written in either case.
        """
        try:
            user_id = await self._accounts.authenticate(username, password, address)
        except Forbidden:
            raise LoginFailed from None
        except LoginLocked:
            raise WebAccountLocked from None
        return await self._start(user_id, replacing)

    @property
    def registration_enabled(self) -> bool:
        return self._accounts.registration_enabled

    async def register(
        self,
        username: str,
        password: str,
        *,
        address: str | None = None,
        replacing: str | None = None,
    ) -> NewWebSession:
        """The web sign-up: Matrix registration itself (`AccountsService.register`, so the
        same switch, username rules, password policy and per-address limit), without a
        Matrix device, then a web session as a login would start.

        Raises what Matrix `/register` answers with (Forbidden when registration is off,
        MatrixError for a bad or taken username or a refused password, LimitExceeded);
        nothing is written in any of these cases.
        """
        body = RegisterBody(
            username=username,
            password=password,
            inhibit_login=True,
            auth=AuthDict(type=LoginType.DUMMY),
        )
        created = await self._accounts.register(body, address)
        # inhibit_login: the user id alone, no Matrix device or access token.
        user_id = created if isinstance(created, str) else created.user_id
        return await self._start(user_id, replacing)

    async def _start(self, user_id: str, replacing: str | None) -> NewWebSession:
        token = new_token(SESSION_TOKEN_PREFIX)
        now = self._clock.now_ms()
        expires = now + SESSION_LIFETIME_MS
        async with self._db.write() as conn:
            if replacing is not None:
                await repo.delete_web_session(conn, self._hash(replacing))
            await repo.delete_expired_web_sessions(conn, now)
            await repo.add_web_session(
                conn, self._hash(token), user_id, created_ts=now, expires_ts=expires
            )
        return NewWebSession(token, user_id, expires)

    async def get(self, token: str) -> WebSessionInfo | None:
        """The live session behind `token`, or None (unknown, expired, logged out, or the
        account deactivated)."""
        if not is_well_formed(token, SESSION_TOKEN_PREFIX):
            return None
        token_hash = self._hash(token)
        now = self._clock.now_ms()
        async with self._db.read() as conn:
            row = await repo.get_web_session(conn, token_hash, now_ts=now)
        if row is None:
            return None
        if row.last_seen_ts is None or now - row.last_seen_ts >= LAST_SEEN_GRANULARITY_MS:
            async with self._db.write() as conn:
                await repo.set_web_session_last_seen(conn, token_hash, now)
        return WebSessionInfo(row.user_id, row.is_admin, row.expires_ts)

    async def logout(self, token: str) -> bool:
        """End the session; True if there was one. Idempotent."""
        if not is_well_formed(token, SESSION_TOKEN_PREFIX):
            return False
        async with self._db.write() as conn:
            return await repo.delete_web_session(conn, self._hash(token))

    async def count_sessions(self, user_id: str) -> int:
        """How many sessions (live or not yet swept) a person has; for audits and tests."""
        async with self._db.read() as conn:
            return await repo.count_web_sessions(conn, user_id)
