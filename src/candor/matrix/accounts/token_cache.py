"""Access-token lookups cached in memory, dropped the moment a token can stop being valid.

Every authenticated request needs its token's owner; caching it saves a database read on
the hot path. Entries are removed whenever a device is logged out or deleted, or a
password changes, so revocation takes effect on the next request. With several workers
(PostgreSQL), `on_forget` carries the revocation to every other worker's cache through the
notifier's LISTEN/NOTIFY channel (`matrix/sync/cluster.py`), which calls `forget_local`
there, or `clear` if it may have missed a message.
"""

from collections import OrderedDict
from collections.abc import Callable

_MAX_ENTRIES = 50_000

# user id, device id, admin, locked, suspended
TokenOwner = tuple[str, str, bool, bool, bool]


class TokenCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, TokenOwner] = OrderedDict()
        # Bumped by every invalidation: a lookup that started before one must not be
        # cached after it (it may have read a token that was deleted meanwhile).
        self.generation = 0
        # Told (after the commit) about every user whose tokens this process revoked (or
        # whose account an administrator locked, suspended or restored).
        self.on_forget: Callable[[str], None] | None = None

    def get(self, token_hash: str) -> TokenOwner | None:
        owner = self._entries.get(token_hash)
        if owner is not None:
            self._entries.move_to_end(token_hash)
        return owner

    def put(self, token_hash: str, owner: TokenOwner, generation: int) -> None:
        if generation != self.generation:
            return
        self._entries[token_hash] = owner
        if len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: str) -> None:
        """The user's tokens changed (call after the commit): drop them here and everywhere."""
        self.forget_local(user_id)
        if self.on_forget is not None:
            self.on_forget(user_id)

    def forget_local(self, user_id: str) -> None:
        self.generation += 1
        for key in [k for k, v in self._entries.items() if v[0] == user_id]:
            del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
