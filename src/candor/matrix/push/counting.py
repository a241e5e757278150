"""Unread counts: the main timeline's and each thread's, from the recorded notifications.

https://spec.matrix.org/v1.11/client-server-api/#receiving-notifications and
https://spec.matrix.org/v1.11/client-server-api/#threaded-read-receipts

Every notification row carries its thread ('' for the main timeline, `store/models/push.py`).
Each thread is counted after its own read position: the latest of the person's unthreaded
receipt (it reads everything before it, threads included), their receipt for that thread
(`thread_id` "main" for the main timeline), the join that began their membership, and
their own latest message in that thread. A /sync that asks for `unread_thread_notifications`
gets the main timeline's counts and each thread's; any other gets their sum, so a threaded
receipt clears exactly its thread for every client.

Cost: a room without threads costs what it did before threads (one index range after one
read position). Threads are counted only if active after the unthreaded read position,
the newest `MAX_THREADS` of them, each by index lookups plus one bounded range; so the cost
grows with threads a person has left unread since their last unthreaded receipt, never
with the room's history. Each count stops at `MAX_COUNT`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import TextClause, bindparam, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.push import Notification, NotificationEvent

# Counting stops here: a /sync's cost must not grow with a room's unread history.
MAX_COUNT = 1000
# Threads counted per room: the most recently active after the unthreaded read position.
MAX_THREADS = 100
# No stream position is this large: "up to now".
NOW = 2**62
MAIN = ""  # the main timeline's thread id in the notification rows

Counts = tuple[int, int]  # (notifications, highlights)


@dataclass(frozen=True, slots=True)
class Unread:
    """A room's unread counts: the main timeline's and each thread's (threads with any)."""

    main: Counts = (0, 0)
    threads: Mapping[str, Counts] = field(default_factory=dict)

    def total(self) -> Counts:
        """What `unread_notifications` says to a client that did not ask for threads."""
        n, h = self.main
        for tn, th in self.threads.values():
            n, h = n + tn, h + th
        return min(n, MAX_COUNT), min(h, MAX_COUNT)

    def plus(self, more: "Unread") -> "Unread":
        threads = dict(self.threads)
        for root, (n, h) in more.threads.items():
            was = threads.get(root, (0, 0))
            threads[root] = (was[0] + n, was[1] + h)
        return Unread((self.main[0] + more.main[0], self.main[1] + more.main[1]), threads)


def _of_rows(rows: Sequence[tuple[str, int, int, int, int]]) -> Unread:
    """(thread, baseline n, baseline h, exceptions n, exceptions h) rows, one per thread."""
    main = (0, 0)
    threads: dict[str, Counts] = {}
    for thread, base_n, base_h, mine_n, mine_h in rows:
        counts = (min(base_n + mine_n, MAX_COUNT), min(base_h + mine_h, MAX_COUNT))
        if thread == MAIN:
            main = counts
        elif counts != (0, 0):
            threads[thread] = counts
    return Unread(main, threads)


# --- the statements ------------------------------------------------------------------------
# Written once per engine: the larger of several values is MAX(a, b, ...) in SQLite and
# GREATEST(a, b, ...) in PostgreSQL. The read positions are MATERIALIZED: inlined, each of
# a thread's four counts looked them up again (PostgreSQL: 0.5 ms a thread instead of 0.1). `{room}` is the room's id: a bound value for one room,
# the row's column for many.

_RECEIPT = """COALESCE((SELECT MAX(ev.stream_pos) FROM receipts r
    JOIN events ev ON ev.event_id = r.event_id
    WHERE r.room_id = {room} AND r.user_id = :user AND r.thread_id = {thread}
      AND r.receipt_type IN ('m.read', 'm.read.private')), 0)"""

_JOINED = """COALESCE((SELECT MAX(m.joined_pos) FROM push_memberships m
    WHERE m.user_id = :user AND m.room_id = {room} AND m.left_pos IS NULL), 0)"""

_OWN = """COALESCE((SELECT MAX(o.stream_pos) FROM notification_events o
    WHERE o.room_id = {room} AND o.sender = :user AND o.thread_id = {thread}), 0)"""

# A thread's receipts are kept under its root's id, the main timeline's under "main".
_RECEIPT_THREAD = "CASE WHEN th.tid = '' THEN 'main' ELSE th.tid END"


def _counts(room: str, upto: bool) -> str:
    """The four counts of one thread (`lb.tid`) after its read position (`lb.pos`), and
    up to `:upto` if `upto`."""
    e_upto = "AND e.stream_pos <= :upto" if upto else ""
    n_upto = "AND n.stream_pos <= :upto" if upto else ""

    def baseline(extra: str) -> str:
        return f"""(SELECT COUNT(*) FROM (SELECT 1 FROM notification_events e
            WHERE e.room_id = {room} AND e.thread_id = lb.tid AND e.stream_pos > lb.pos {e_upto}
              AND e.sender <> :user {extra}
              AND NOT EXISTS (SELECT 1 FROM notifications x
                              WHERE x.user_id = :user AND x.stream_pos = e.stream_pos)
            LIMIT {MAX_COUNT}) AS counted)"""  # noqa: S608 - constant fragments

    def mine(extra: str) -> str:
        return f"""(SELECT COUNT(*) FROM (SELECT 1 FROM notifications n
            WHERE n.user_id = :user AND n.room_id = {room} AND n.thread_id = lb.tid
              AND n.stream_pos > lb.pos {n_upto} AND n.notify {extra}
            LIMIT {MAX_COUNT}) AS counted)"""  # noqa: S608 - constant fragments

    return ", ".join([baseline(""), baseline("AND e.highlight"), mine(""), mine("AND n.highlight")])


def _one_room(greatest: str) -> TextClause:
    room = ":room"
    return text(
        f"""
WITH fl AS MATERIALIZED (
  SELECT {greatest}({_RECEIPT.format(room=room, thread="''")},
                    {_JOINED.format(room=room)}) AS pos
), th AS (
  SELECT '' AS tid
  UNION ALL
  SELECT tid FROM (SELECT t.root_event_id AS tid FROM event_threads t
    WHERE t.room_id = :room AND t.latest_pos > (SELECT pos FROM fl)
    ORDER BY t.latest_pos DESC LIMIT {MAX_THREADS}) AS recent
), lb AS MATERIALIZED (
  SELECT th.tid AS tid, {greatest}((SELECT pos FROM fl),
    {_RECEIPT.format(room=room, thread=_RECEIPT_THREAD)},
    {_OWN.format(room=room, thread="th.tid")}) AS pos
  FROM th
)
SELECT lb.tid, {_counts(room, upto=True)} FROM lb"""  # noqa: S608 - constant fragments
    )


def _many_rooms(greatest: str) -> TextClause:
    return text(
        f"""
WITH fl AS MATERIALIZED (
  SELECT rm.room_id AS room_id,
    {greatest}({_RECEIPT.format(room="rm.room_id", thread="''")},
               {_JOINED.format(room="rm.room_id")}) AS pos
  FROM rooms rm WHERE rm.room_id IN :rooms
), th AS MATERIALIZED (
  SELECT fl.room_id AS room_id, '' AS tid FROM fl
  UNION ALL
  SELECT room_id, tid FROM (
    SELECT fl.room_id AS room_id, t.root_event_id AS tid,
      ROW_NUMBER() OVER (PARTITION BY fl.room_id ORDER BY t.latest_pos DESC) AS nth
    FROM fl JOIN event_threads t ON t.room_id = fl.room_id AND t.latest_pos > fl.pos
  ) AS ranked WHERE nth <= {MAX_THREADS}
), lb AS MATERIALIZED (
  SELECT th.room_id AS room_id, th.tid AS tid, {greatest}(fl.pos,
    {_RECEIPT.format(room="th.room_id", thread=_RECEIPT_THREAD)},
    {_OWN.format(room="th.room_id", thread="th.tid")}) AS pos
  FROM th JOIN fl ON fl.room_id = th.room_id
)
SELECT lb.room_id, lb.tid, {_counts("lb.room_id", upto=False)} FROM lb"""  # noqa: S608 - constant fragments
    ).bindparams(bindparam("rooms", expanding=True))


_ONE_ROOM = {"sqlite": _one_room("MAX"), "postgresql": _one_room("GREATEST")}
_MANY_ROOMS = {"sqlite": _many_rooms("MAX"), "postgresql": _many_rooms("GREATEST")}


async def count_unread(
    conn: AsyncConnection, room_id: str, user_id: str, upto: int = NOW
) -> Unread:
    """The room's unread counts for the user, from events up to `upto` (the caller's
    stream position, so that /sync can add a later window's counts to these)."""
    rows = await conn.execute(
        _ONE_ROOM[conn.dialect.name], {"room": room_id, "user": user_id, "upto": upto}
    )
    return _of_rows([(tid, *(int(v or 0) for v in parts)) for tid, *parts in rows])


async def count_unread_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str
) -> dict[str, Unread]:
    """`count_unread` of many rooms in one statement (a room unknown here is absent)."""
    if not room_ids:
        return {}
    by_room: dict[str, list[tuple[str, int, int, int, int]]] = {}
    for room_id, tid, *parts in await conn.execute(
        _MANY_ROOMS[conn.dialect.name], {"rooms": list(room_ids), "user": user_id}
    ):
        by_room.setdefault(room_id, []).append((tid, *(int(v or 0) for v in parts)))
    return {room_id: _of_rows(rows) for room_id, rows in by_room.items()}


# --- a window of the stream, for every user at once ------------------------------------------
# The notification rows of one stretch of the stream in one round trip: /sync adds them to
# counts it read at the stretch's start (`sync/unread.py`). Kind 0 is a baseline (who = the
# sender), 1 an exception (who = the user it is for).
_WINDOW_ROWS = union_all(
    select(
        literal(0).label("kind"),
        NotificationEvent.stream_pos,
        NotificationEvent.room_id,
        NotificationEvent.sender.label("who"),
        literal(True).label("notify"),
        NotificationEvent.highlight,
        NotificationEvent.thread_id,
    ).where(
        NotificationEvent.stream_pos > bindparam("after"),
        NotificationEvent.stream_pos <= bindparam("upto"),
    ),
    select(
        literal(1),
        Notification.stream_pos,
        Notification.room_id,
        Notification.user_id,
        Notification.notify,
        Notification.highlight,
        Notification.thread_id,
    ).where(
        Notification.stream_pos > bindparam("after"),
        Notification.stream_pos <= bindparam("upto"),
    ),
)


@dataclass(frozen=True, slots=True)
class WindowNotifications:
    """Every notification row in (after, upto]: the baselines, and each user's exceptions."""

    # (stream position, room, sender, highlight, thread)
    baselines: tuple[tuple[int, str, str, bool, str], ...]
    # user -> (room, stream position, notify, highlight, thread)
    exceptions: dict[str, list[tuple[str, int, bool, bool, str]]]

    def counted(self, room_id: str, user_id: str) -> Unread:
        """What `count_unread` adds for these rows, if none of the user's read positions
        is among them (no receipt, join or message of theirs)."""
        mine = self.exceptions.get(user_id, ())
        singled_out = {pos for _, pos, _, _, _ in mine}
        by_thread: dict[str, Counts] = {}

        def add(thread: str, highlight: bool) -> None:
            n, h = by_thread.get(thread, (0, 0))
            by_thread[thread] = (n + 1, h + highlight)

        for pos, room, sender, highlight, thread in self.baselines:
            if room == room_id and sender != user_id and pos not in singled_out:
                add(thread, highlight)
        for room, _, notify, highlight, thread in mine:
            if room == room_id and notify:
                add(thread, highlight)
        main = by_thread.pop(MAIN, (0, 0))
        return Unread(main, by_thread)


async def window_notifications(conn: AsyncConnection, after: int, upto: int) -> WindowNotifications:
    baselines: list[tuple[int, str, str, bool, str]] = []
    exceptions: dict[str, list[tuple[str, int, bool, bool, str]]] = {}
    for kind, pos, room, who, notify, hl, thread in await conn.execute(
        _WINDOW_ROWS, {"after": after, "upto": upto}
    ):
        if kind == 0:
            baselines.append((int(pos), room, who, bool(hl), thread))
        else:
            exceptions.setdefault(who, []).append((room, int(pos), bool(notify), bool(hl), thread))
    return WindowNotifications(tuple(baselines), exceptions)
