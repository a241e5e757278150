"""People search (`POST /user_directory/search`): finding someone to talk to, and only
the people one may find.

Why its own rule: a directory of everyone would let any account list the server's
users. Candor finds the searcher, people who share a joined room with them, and people
joined to a room anyone may join or read (the spec's minimum); nobody else, and never a
deactivated account (docs/api.md, "People search"). Matching is a prefix of the display
name, of any later word of it, or of the user id, compared after the same normalisation
the stored terms had (`accounts/search_terms.py`).
"""

from typing import Final

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts.search_terms import MAX_TERM_LENGTH, normalise, prefix_bounds
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.matrix.user_directory import repository as repo
from candor.store.db import Database

MAX_RESULTS: Final = 50


class UserDirectoryService:
    def __init__(self, db: Database, ratelimiter: RateLimiter) -> None:
        self._db = db
        self._ratelimiter = ratelimiter

    async def search(self, requester: Requester, search_term: str, limit: int) -> JsonDict:
        """`{"results": [...], "limited": bool}`, best match first."""
        await self._ratelimiter.check(requester.user_id)
        limit = min(limit, MAX_RESULTS)
        prefix = normalise(search_term)[:MAX_TERM_LENGTH]
        if not prefix:
            return {"results": [], "limited": False}
        low, high = prefix_bounds(prefix)
        async with self._db.read() as conn:
            found = await repo.search_users(conn, requester.user_id, low, high, limit=limit + 1)
        results: list[JsonDict] = []
        for person in found[:limit]:
            result: JsonDict = {"user_id": person.user_id}
            if person.displayname is not None:
                result["display_name"] = person.displayname
            if person.avatar_url is not None:
                result["avatar_url"] = person.avatar_url
            results.append(result)
        return {"results": results, "limited": len(found) > limit}
