"""Refresh tokens: access tokens that expire, and `POST /refresh` that rotates them.

https://spec.matrix.org/v1.16/client-server-api/#refreshing-access-tokens
A client that sends `refresh_token: true` to `/login` or `/register` gets an access token
that expires after `accounts.access_token_lifetime_ms` and a refresh token. A refresh
deletes the old access token at once and issues a new pair; the old refresh token stays
valid until the new pair is used (the spec), so a client that lost the answer can retry:
the new access token's first use (`Authenticator`) or the new refresh token's use (here)
deletes it. Using it again before that replaces the pair it issued the first time. An
unknown or retired refresh token is `401 M_UNKNOWN_TOKEN`; only HMACs are stored.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.tokens import hash_token, new_token
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.authenticator import ACCESS_TOKEN_PREFIX
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.errors import UnknownToken
from candor.store.db import Database

REFRESH_TOKEN_PREFIX = "cdr_rt_"  # noqa: S105 - the token kind prefix, not a secret
# `short_lived_tokens.kind` values.
LOGIN_TOKEN = "login"  # noqa: S105 - a row kind, not a secret
OPENID_TOKEN = "openid"  # noqa: S105 - a row kind, not a secret


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in_ms: int


async def issue_refreshable(
    conn: AsyncConnection,
    token_key: bytes,
    user_id: str,
    device_id: str,
    now: int,
    *,
    lifetime_ms: int,
    replaces: str | None = None,
) -> TokenPair:
    """An expiring access token and its refresh token, in the caller's transaction.
    `replaces`: the refresh token this pair rotates out (retired on the pair's first use)."""
    access = new_token(ACCESS_TOKEN_PREFIX)
    refresh = new_token(REFRESH_TOKEN_PREFIX)
    access_hash = hash_token(access, token_key)
    await repo.add_token(
        conn, access_hash, user_id, device_id, now, expires_ts=now + lifetime_ms, retires=replaces
    )
    await repo.add_refresh_token(
        conn,
        hash_token(refresh, token_key),
        user_id,
        device_id,
        access_hash,
        now,
        replaces=replaces,
    )
    return TokenPair(access, refresh, lifetime_ms)


class RefreshService:
    def __init__(
        self, db: Database, clock: Clock, token_key: bytes, tokens: TokenCache, lifetime_ms: int
    ) -> None:
        self._db = db
        self._clock = clock
        self._token_key = token_key
        self._tokens = tokens
        self._lifetime_ms = lifetime_ms

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: a new pair for the refresh token's device; the old access token ends."""
        token_hash = hash_token(refresh_token, self._token_key)
        async with self._db.write() as conn:
            found = await repo.get_refresh_token(conn, token_hash)
            if found is None:
                raise UnknownToken("Unknown refresh token")
            # This token is used: the one it replaced is done, and a pair it issued
            # before (whose answer the client evidently lost) is replaced.
            await repo.delete_refresh_token(conn, found.replaces)
            await repo.delete_refresh_pair(conn, found.next_hash)
            await repo.delete_access_token(conn, found.access_hash)
            pair = await issue_refreshable(
                conn,
                self._token_key,
                found.user_id,
                found.device_id,
                self._clock.now_ms(),
                lifetime_ms=self._lifetime_ms,
                replaces=token_hash,
            )
            await repo.set_next_refresh_token(
                conn, token_hash, hash_token(pair.refresh_token, self._token_key)
            )
        # The old access token may be cached here and on other workers.
        self._tokens.forget_user(found.user_id)
        return pair
