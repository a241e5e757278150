"""Access-token lookups cached in memory, dropped the moment a token can stop being valid.

Every authenticated request needs its token's owner; caching it saves a database read on
the hot path. Entries are removed whenever a device is logged out or deleted, or a
password changes, so revocation takes effect on the next request. With several workers
(PostgreSQL), `on_forget` carries the revocation to every other worker's cache through the
notifier's LISTEN/NOTIFY channel (`matrix/sync/cluster.py`), which calls `forget_local`
there, or `clear` if it may have missed a message.

An access token issued with a refresh token expires by the clock, not by a message: its
entry carries its expiry, and a lookup past it misses (each worker compares with its own
clock), so the database read that follows answers soft logout on every worker.
"""

from collections import OrderedDict
from collections.abc import Callable

_MAX_ENTRIES = 50_000

# user id, device id, admin, locked, suspended
TokenOwner = tuple[str, str, bool, bool, bool]


class TokenCache:
    def __init__(self) -> None:
        # token hash → (owner, expiry in ms or None)
        self._entries: OrderedDict[str, tuple[TokenOwner, int | None]] = OrderedDict()
        # Bumped by every invalidation: a lookup that started before one must not be
        # cached after it (it may have read a token that was deleted meanwhile).
        self.generation = 0
        # Told (after the commit) about every user whose tokens this process revoked (or
        # whose account an administrator locked, suspended or restored).
        self.on_forget: Callable[[str], None] | None = None

    def get(self, token_hash: str, now_ms: int | None = None) -> TokenOwner | None:
        """The cached owner, or None if unknown here or expired at `now_ms` (the
        authenticator always passes it; without it no expiry is checked)."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] is not None and now_ms is not None and entry[1] <= now_ms:
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return entry[0]

    def put(
        self,
        token_hash: str,
        owner: TokenOwner,
        generation: int,
        expires_ts: int | None = None,
    ) -> None:
        if generation != self.generation:
            return
        self._entries[token_hash] = (owner, expires_ts)
        if len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: str) -> None:
        """The user's tokens changed (call after the commit): drop them here and everywhere."""
        self.forget_local(user_id)
        if self.on_forget is not None:
            self.on_forget(user_id)

    def forget_local(self, user_id: str) -> None:
        self.generation += 1
        for key in [k for k, v in self._entries.items() if v[0][0] == user_id]:
            del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
