"""The rows of a short stretch of the stream, read once and shared by every /sync that
asks for the same stretch.

Why: when a message lands in a room with 256 long-polling members, all 256 wake with the
same token and would each read the same new event; here the first one reads the window
`(after, upto]` and the others take its answer. The entry is keyed by both ends, and
`upto` is the stream position the caller read in its own snapshot. Every write (an event,
a redaction, a receipt, account data, a to-device message, a device-list change) takes a
new position in the same transaction as its rows, so what `(after, upto]` holds at
position `upto` can never change afterwards: a redaction that rewrites an older event is
itself at a later position, so any snapshot that sees it has a larger `upto` and another
key. That makes an entry right whichever process committed the rows, and nothing needs
invalidating; the cache only bounds its size. Rows are filled from the caller's own
snapshot on a miss.

The window also says whether every position in it is an event (`only_events`): then it
holds no receipt, account data, to-device message or device-list change, and /sync may
skip reading those streams. A position claimed by a work item that then failed leaves a
gap, which only makes the answer "no" (the streams are read as before).
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.constants import EventType
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent

# A longer window (a client back after a while) reads per user, as before; a short one is
# what the fan-out to long-polls produces, and at most this many rows are kept for it.
MAX_WINDOW = 256
_MAX_ENTRIES = 32


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class InFlight(Generic[K, V]):
    """One read per key at a time: whoever finds the same read under way awaits its result
    instead of reading again.

    A message wakes every long-poll of its room at once. On SQLite the first woken build
    reads the window before any other runs (the driver never suspends), but on PostgreSQL
    every read really waits, so all of them missed the cache together and each read the
    window itself.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V | None]] = {}

    async def join(self, key: K) -> V | None:
        """The result of the read of `key` under way, or None (none, or it failed)."""
        running = self._running.get(key)
        return None if running is None else await asyncio.shield(running)

    async def run(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """`read()`'s result, or that of the same read already under way."""
        joined = await self.join(key)
        if joined is not None:
            return joined
        running: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._running[key] = running
        try:
            value = await read()
        except BaseException:
            running.set_result(None)  # those waiting read for themselves
            raise
        finally:
            del self._running[key]
        running.set_result(value)
        return value


class NeedsSnapshot(Exception):
    """A /sync built without a database snapshot (from shared windows and carried-forward
    counts) found that it needs one after all: build it again the usual way."""


@dataclass(frozen=True, slots=True)
class StreamWindow:
    after: int
    upto: int
    events: tuple[StoredEvent, ...]
    # Worked out once (`of`): every listener woken for the window asks.
    # Some event is a membership change (device lists and summaries depend on them).
    has_members: bool = False
    # (room, sender) of every event: a person's own message moves their read position.
    senders: frozenset[tuple[str, str]] = frozenset()
    # The events some event of the window relates to (`m.relates_to.event_id`): a child
    # stored after its parent, so an answer built from the window alone bundles nothing
    # unless one of its events is among these (`SyncService._build`).
    relation_targets: frozenset[str] = frozenset()

    @classmethod
    def of(cls, after: int, upto: int, events: tuple[StoredEvent, ...]) -> "StreamWindow":
        return cls(
            after,
            upto,
            events,
            has_members=any(e.type == EventType.MEMBER for e in events),
            senders=frozenset((e.room_id, e.sender) for e in events),
            relation_targets=frozenset(filter(None, map(_relates_to, events))),
        )

    @property
    def only_events(self) -> bool:
        """Every position in the window is an event (no other stream wrote in it)."""
        return len(self.events) == self.upto - self.after


def _relates_to(ev: StoredEvent) -> str | None:
    relation = ev.content.get("m.relates_to")
    target = relation.get("event_id") if isinstance(relation, dict) else None
    return target if isinstance(target, str) else None


class WindowCache:
    """Recent windows by (after, upto), most recently used last."""

    def __init__(self, *, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: LRUCache[tuple[int, int], StreamWindow] = LRUCache(max_entries)
        self._reading: InFlight[tuple[int, int], StreamWindow] = InFlight()
        self.hits = 0
        self.misses = 0

    async def peek(self, after: int, upto: int) -> StreamWindow | None:
        """The window `(after, upto]` if some /sync read it already or is reading it (no
        snapshot needed: what a window holds never changes)."""
        key = (after, upto)
        window = self._entries.get(key) or await self._reading.join(key)
        if window is not None:
            self.hits += 1
        return window

    async def get(self, conn: AsyncConnection, after: int, upto: int) -> StreamWindow | None:
        """The window `(after, upto]` as `conn`'s snapshot (at position `upto`) sees it, or
        None when it is too long to share."""
        if not 0 <= upto - after <= MAX_WINDOW:
            return None
        key = (after, upto)
        window = self._entries.get(key)
        if window is not None:
            self.hits += 1
            return window

        async def read() -> StreamWindow:
            self.misses += 1
            events: tuple[StoredEvent, ...] = ()
            if upto > after:
                events = tuple(await events_repo.list_events_between(conn, after=after, upto=upto))
            found = self._entries[key] = StreamWindow.of(after, upto, events)
            return found

        return await self._reading.run(key, read)
