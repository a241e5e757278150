"""Access token → Requester: the one check every authenticated Matrix request makes.

Built once in the composition root from exactly what it needs (the database, the token
key and the in-memory token cache), so `matrix/auth.py`, the FastAPI dependency, stays a
thin adapter that reads the token off the request. It lives in the accounts domain
because access tokens are accounts' rows.

A token issued with a refresh token expires (soft logout, `M_UNKNOWN_TOKEN` with
`soft_logout: true`), and its first use retires the refresh token its refresh replaced
(the spec: the old one stays valid until the new pair is used).
"""

from candor.core.clock import Clock
from candor.core.tokens import hash_token
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.errors import UnknownToken
from candor.matrix.requester import Requester
from candor.store.db import Database

ACCESS_TOKEN_PREFIX = "cdr_at_"  # noqa: S105 - the token kind prefix, not a secret


class Authenticator:
    def __init__(self, db: Database, token_key: bytes, tokens: TokenCache, clock: Clock) -> None:
        self._db = db
        self._token_key = token_key
        self._tokens = tokens
        self._clock = clock

    async def requester(self, token: str) -> Requester:
        """The live account and device behind `token`, or UnknownToken."""
        token_hash = hash_token(token, self._token_key)
        now = self._clock.now_ms()
        owner = self._tokens.get(token_hash, now)
        if owner is None:
            generation = self._tokens.generation
            async with self._db.read() as conn:
                found = await repo.get_token_owner(conn, token_hash)
            if found is None:
                raise UnknownToken
            if found.expires_ts is not None and found.expires_ts <= now:
                raise UnknownToken("Access token has expired", soft_logout=True)
            if found.retires is not None:
                async with self._db.write() as conn:
                    await repo.retire_refresh_token(conn, token_hash, found.retires)
            owner = found.owner()
            self._tokens.put(token_hash, owner, generation, found.expires_ts)
        return Requester(owner[0], owner[1], owner[2], token_hash, owner[3], owner[4])
