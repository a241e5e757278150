"""Access token → Requester: the one check every authenticated Matrix request makes.

Built once in the composition root from exactly what it needs (the database, the token
key and the in-memory token cache), so `matrix/auth.py`, the FastAPI dependency, stays a
thin adapter that reads the token off the request. It lives in the accounts domain
because access tokens are accounts' rows.
"""

from candor.core.tokens import hash_token
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.errors import UnknownToken
from candor.matrix.requester import Requester
from candor.store.db import Database

ACCESS_TOKEN_PREFIX = "cdr_at_"  # noqa: S105 - the token kind prefix, not a secret


class Authenticator:
    def __init__(self, db: Database, token_key: bytes, tokens: TokenCache) -> None:
        self._db = db
        self._token_key = token_key
        self._tokens = tokens

    async def requester(self, token: str) -> Requester:
        """The live account and device behind `token`, or UnknownToken."""
        token_hash = hash_token(token, self._token_key)
        owner = self._tokens.get(token_hash)
        if owner is None:
            generation = self._tokens.generation
            async with self._db.read() as conn:
                owner = await repo.get_token_owner(conn, token_hash)
            if owner is None:
                raise UnknownToken
            self._tokens.put(token_hash, owner, generation)
        return Requester(owner[0], owner[1], owner[2], token_hash, owner[3], owner[4])
