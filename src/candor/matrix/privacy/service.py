"""A person's view of the transparency log: every access to their data, with proof.

Each record comes with its salt (so the person can recompute the public commitment), its
leaf index, and an inclusion proof against the latest signed checkpoint, so the page can
show that the log really holds exactly this record. A record newer than the checkpoint
gets its proof with the next one (within a second).
"""

import base64
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.matrix.requester import Requester
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


class PrivacyService:
    def __init__(
        self,
        transparency: TransparencyService,
        access: AccessLog,
        tlog: TransparencyLog,
        *,
        public_base_url: str,
    ) -> None:
        self._transparency = transparency
        self._access = access
        self._tlog = tlog
        # Where people verify the log from ("check it yourself"): the configured URL, never
        # a request's Host header.
        self.public_base_url = public_base_url

    async def my_accesses(self, requester: Requester, limit: int = 100) -> MyAccesses:
        return await self.accesses_of(requester.user_id, limit)

    async def accesses_of(self, user_id: str, limit: int = 100) -> MyAccesses:
        """The records concerning `user_id`, newest first, each checked against the latest
        checkpoint. The caller has authenticated `user_id` (a Matrix token, a web session).
        """
        size, root, note = await self._transparency.latest_tree_head()
        records = await self._access.list_for_user(user_id, limit=limit)
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
