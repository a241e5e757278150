"""Unread counts of /sync, carried forward from one answer to the next.

Why: a woken long-poll answers with each room's `unread_notifications`, and counting them
read the room's notification rows after the person's read position, one statement per
listener per event, its cost growing with the unread history (up to the 1,000 cap). But
between two answers only the window `(after, upto]` is new: when nothing in it moves the
person's read position (no receipt, no membership change, no message of theirs in the
room), the counts at `upto` are the counts at `after` plus that window's notification
rows. Those rows are read once per window for every listener (`WindowNotifications`), so a
wake-up counts nothing per listener.

Counts are stored by (user, room) with the position they hold at, and used only for a
window that starts exactly there; any other case counts afresh. Like the windows
themselves (`window.py`), nothing committed up to a position can change afterwards, so
entries need no invalidation whichever process wrote the rows; the caches only bound their
size.
"""

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.push import facts as push_facts
from candor.matrix.push.facts import Unread, WindowNotifications
from candor.matrix.sync.window import InFlight, NeedsSnapshot, StreamWindow

_MAX_COUNTS = 65_536
_MAX_WINDOWS = 32


class UnreadCounts:
    def __init__(self) -> None:
        self._counts: LRUCache[tuple[str, str], tuple[int, Unread]] = LRUCache(_MAX_COUNTS)
        self._windows: LRUCache[tuple[int, int], WindowNotifications] = LRUCache(_MAX_WINDOWS)
        self._reading: InFlight[tuple[int, int], WindowNotifications] = InFlight()

    async def of_room(
        self,
        conn: AsyncConnection | None,
        room_id: str,
        user_id: str,
        upto: int,
        shared: StreamWindow | None,
    ) -> Unread:
        """The room's unread counts at `upto`. Without `conn` (a build that holds no
        snapshot) only a carried-forward count answers; else `NeedsSnapshot`."""
        counts = self._carried(room_id, user_id, upto, shared)
        if counts is None and shared is not None:
            if conn is not None:
                await self.load_window(conn, shared)
            else:
                await self._reading.join((shared.after, shared.upto))
            counts = self._carried(room_id, user_id, upto, shared)
        if counts is None:
            if conn is None:
                raise NeedsSnapshot
            counts = await push_facts.unread_counts(conn, room_id, user_id, upto)
        self._counts[(user_id, room_id)] = (upto, counts)
        return counts

    async def load_window(self, conn: AsyncConnection, shared: StreamWindow) -> None:
        """Read the window's notification rows once, if counts can be carried over it."""
        key = (shared.after, shared.upto)
        if key in self._windows or not shared.only_events or shared.has_members:
            return

        async def read() -> WindowNotifications:
            self._windows[key] = rows = await push_facts.window_notifications(conn, *key)
            return rows

        await self._reading.run(key, read)

    def _carried(
        self, room_id: str, user_id: str, upto: int, shared: StreamWindow | None
    ) -> Unread | None:
        if shared is None or shared.upto != upto:
            return None
        known = self._counts.get((user_id, room_id))
        if known is not None and known[0] == upto:
            return known[1]  # another device of theirs answered for this window already
        rows = self._windows.get((shared.after, shared.upto))
        if known is None or known[0] != shared.after or rows is None:
            return None
        # Only events in the window (a receipt or account data would have a position of
        # its own), none a membership change; a message of the person's own in the room
        # moves their read position in its thread: count afresh.
        if (room_id, user_id) in shared.senders:
            return None
        return known[1].plus(rows.counted(room_id, user_id))
