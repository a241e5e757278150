"""The `presence` section of /sync: m.presence events of the reader and their room-mates.

An incremental /sync gets the rows that changed in its window (after, upto], an initial
one the current presence of everyone it shares a joined room with who is not set offline.
Either read is bounded by the filter's `limit` (at most `_DEFAULT_LIMIT` without one).
The filter's `presence` section applies: `types` / `not_types` (so `not_types: ["*"]`
turns presence off for that client), `senders` / `not_senders`, and `limit`.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.config import PresenceSettings
from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.matrix.constants import EventType
from candor.matrix.events.filters import EventFilter
from candor.matrix.presence import repository as repo
from candor.matrix.presence.rules import PresenceState, StoredPresence, presence_content
from candor.matrix.presence.service import thresholds_of

_DEFAULT_LIMIT = 500


class PresenceStream:
    def __init__(self, clock: Clock, settings: PresenceSettings) -> None:
        self._clock = clock
        self.enabled = settings.enabled
        self._thresholds = thresholds_of(settings)

    async def events(
        self,
        conn: AsyncConnection,
        user_id: str,
        *,
        initial: bool,
        after: int,
        upto: int,
        flt: EventFilter,
    ) -> list[JsonDict]:
        """The reader's presence events between `after` and `upto` (all current on an
        initial sync), oldest change first."""
        if not self.enabled or not flt.allows_type(EventType.PRESENCE):
            return []
        limit = _DEFAULT_LIMIT if flt.limit is None else flt.limit
        if limit == 0 or (not initial and upto <= after):
            return []
        if initial:
            rows = await repo.list_current(conn, user_id, upto=upto, limit=limit)
        else:
            rows = await repo.list_changed(conn, user_id, after=after, upto=upto, limit=limit)
        now = self._clock.now_ms()
        out: list[JsonDict] = []
        for row in reversed(rows):
            if not _sender_allowed(flt, row):
                continue
            content = presence_content(row, now, self._thresholds)
            if initial and content["presence"] == PresenceState.OFFLINE:
                continue  # quiet for long: an initial sync lists who may be around
            out.append({"type": EventType.PRESENCE, "sender": row.user_id, "content": content})
        return out


def _sender_allowed(flt: EventFilter, row: StoredPresence) -> bool:
    if flt.senders is not None and row.user_id not in flt.senders:
        return False
    return row.user_id not in flt.not_senders
