"""A person's view of the transparency log: every access to their data, with proof.

Each record comes with its salt (so the person can recompute the public commitment), its
leaf index, and an inclusion proof against the latest signed checkpoint, so the page can
show that the log really holds exactly this record. A record newer than the checkpoint
gets its proof with the next one (within a second).
"""

import base64
from collections.abc import Collection
from dataclasses import dataclass, field

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.events import facts as events_facts
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import leaf_hash, verify_inclusion
from candor.transparency.service import TransparencyService


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class MyAccesses:
    checkpoint: str
    records: list[JsonDict]
    # The checkpoint's tree size and origin line, so a page can name what it proved against.
    size: int
    origin: str
    # Whether a page of records has neighbours: set by `accesses_page`, not `accesses_of`.
    newer: bool = False
    older: bool = False


@dataclass(frozen=True, slots=True)
class Names:
    """What a page of access records needs to say things by name instead of by id."""

    people: dict[str, str] = field(default_factory=dict)  # user id -> display name
    rooms: dict[str, str] = field(default_factory=dict)  # room id -> current name
    times: dict[int, int] = field(default_factory=dict)  # stream position -> event ts (ms)


class PrivacyService:
    def __init__(
        self,
        transparency: TransparencyService,
        access: AccessLog,
        tlog: TransparencyLog,
        *,
        public_base_url: str,
        db: Database,
    ) -> None:
        self._transparency = transparency
        self._access = access
        self._tlog = tlog
        self._db = db
        # Where people verify the log from ("check it yourself"): the configured URL, never
        # a request's Host header.
        self.public_base_url = public_base_url

    async def my_accesses(self, requester: Requester, limit: int = 100) -> MyAccesses:
        return await self.accesses_of(requester.user_id, limit)

    async def accesses_page(
        self, user_id: str, limit: int, *, before: int | None = None, after: int | None = None
    ) -> MyAccesses:
        """One page of `accesses_of`: `limit` records older than `before` or newer than
        `after` (else the newest), and whether there are newer and older ones. Given both,
        `before` wins: a page is one run of records, never a window between two."""
        if before is not None:
            after = None
        found = await self._accesses(user_id, limit + 1, before=before, after=after)
        more = len(found.records) > limit
        records = found.records[1:] if more and after is not None else found.records[:limit]
        newer = (more if after is not None else before is not None) and bool(records)
        older = (more if after is None else True) and bool(records)
        return MyAccesses(found.checkpoint, records, found.size, found.origin, newer, older)

    async def names(
        self, user_ids: Collection[str], room_ids: Collection[str], positions: Collection[int]
    ) -> Names:
        """Display names, room names and event times for a page of records, in one read.

        Names are today's (a room renamed since shows its new name): the record itself
        keeps the ids, which the "check it yourself" data shows.
        """
        async with self._db.read() as conn:
            people = await accounts_facts.display_names(conn, sorted(set(user_ids)))
            rooms = await rooms_facts.room_names(conn, sorted(set(room_ids)))
            events = await events_facts.events_at(conn, sorted(set(positions)))
        return Names(people, rooms, {ev.stream_pos: ev.origin_server_ts for ev in events})

    async def accesses_of(self, user_id: str, limit: int = 100) -> MyAccesses:
        """The records concerning `user_id`, newest first, each checked against the latest
        checkpoint. The caller has authenticated `user_id` (a Matrix token, a web session).
        """
        return await self._accesses(user_id, limit)

    async def _accesses(
        self, user_id: str, limit: int, *, before: int | None = None, after: int | None = None
    ) -> MyAccesses:
        size, root, note = await self._transparency.latest_tree_head()
        records = await self._access.list_for_user(user_id, limit=limit, before=before, after=after)
        provable = [r.index for r in records if r.index < size]
        proofs = dict(zip(provable, await self._tlog.inclusion_proofs(provable, size), strict=True))
        out: list[JsonDict] = []
        for stored in records:
            entry = leaf_hash(stored.leaf)
            item: JsonDict = {
                "index": stored.index,
                "record": stored.record,
                "salt": _b64(stored.salt),
                "leaf_hash": _b64(entry),
                "proof": None,
                "verified": False,
            }
            hashes = proofs.get(stored.index)
            if hashes is not None:
                item["proof"] = {"size": size, "hashes": [_b64(h) for h in hashes]}
                item["verified"] = verify_inclusion(stored.index, size, entry, hashes, root)
            out.append(item)
        return MyAccesses(note, out, size, self._transparency.origin)
