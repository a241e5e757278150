"""Wakes waiting /sync requests when something they care about was committed.

Waiters register the user and rooms they watch *before* they read, so a commit that
lands between their read and their wait still wakes them. The notifier carries no data:
a woken waiter reads from the database. This is the one interface for wake-ups: a
single process (SQLite) uses this class as it is; with PostgreSQL, `cluster.py`'s
`ClusterNotifier` extends it so commits on any worker wake the waiters of every worker.
"""

import asyncio
import math
import time
from collections.abc import Callable, Iterable


class Wakeup:
    """A one-waiter `asyncio.Event`: `set`, `clear`, `is_set` and `wait`.

    Every idle /sync long-poll holds one, so it is kept small (issue 17: server memory per
    idle long-poll): asyncio's Event carries an instance dict and a deque of waiters,
    about 900 bytes; this is two slots and, while waited on, one future. Only the
    long-poll that owns the listener waits on it.
    """

    __slots__ = ("_value", "_waiter")

    def __init__(self) -> None:
        self._value = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
        return True


class Listener:
    __slots__ = ("event", "rooms", "user_id")

    def __init__(self, user_id: str, rooms: Iterable[str]) -> None:
        self.user_id = user_id
        # Only iterated: a tuple is the smallest container (and free when empty).
        self.rooms = tuple(rooms)
        self.event = Wakeup()


class Listening:
    """`Notifier.listen`'s context manager; leaving it twice is harmless.

    A class rather than a `@contextmanager` generator: a parked long-poll holds it for its
    whole wait, and the generator's frame and wrapper cost several hundred bytes more."""

    __slots__ = ("_listener", "_notifier")

    def __init__(self, notifier: "Notifier", listener: Listener) -> None:
        self._notifier = notifier
        self._listener = listener

    def __enter__(self) -> Listener:
        self._notifier._add(self._listener)
        return self._listener

    def __exit__(self, *exc_info: object) -> None:
        self._notifier._remove(self._listener)


# How long a position read from the database vouches for the notified ones after it.
POSITION_TRUST_S = 1.0


class Notifier:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._by_user: dict[str, set[Listener]] = {}
        self._by_room: dict[str, set[Listener]] = {}
        # The newest committed stream position this process has heard of: every position
        # is taken by an event persister, which notifies (here, or through NOTIFY from
        # another worker) after its commit. /sync uses it instead of a database read per
        # re-poll and per woken build. Only after a read of the database set the baseline
        # (`heard`), for a second at a time: a writer that notifies nobody (another
        # process on a SQLite file, a lost notice) is then seen within a second.
        self._position = 0
        self._heard_at = -math.inf  # when the last baseline was read; never yet
        self._monotonic = monotonic

    async def start(self) -> None:
        """Nothing to start in one process (`ClusterNotifier` starts listening here)."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    def listen(self, user_id: str, rooms: Iterable[str]) -> Listening:
        """A context manager that registers a listener for `user_id` and `rooms` on entry
        and unregisters it on exit."""
        return Listening(self, Listener(user_id, rooms))

    def _add(self, listener: Listener) -> None:
        self._by_user.setdefault(listener.user_id, set()).add(listener)
        for room in listener.rooms:
            self._by_room.setdefault(room, set()).add(listener)

    def _remove(self, listener: Listener) -> None:
        self._discard(self._by_user, listener.user_id, listener)
        for room in listener.rooms:
            self._discard(self._by_room, room, listener)

    @staticmethod
    def _discard(index: dict[str, set[Listener]], key: str, listener: Listener) -> None:
        group = index.get(key)
        if group is not None:
            group.discard(listener)
            if not group:
                del index[key]

    @property
    def position(self) -> int | None:
        """The newest committed stream position, if this process can vouch for it (else
        read it from the database and report it with `heard`)."""
        if self._monotonic() - self._heard_at > POSITION_TRUST_S:
            return None
        return self._position

    def heard(self, position: int) -> None:
        """A stream position read from the database: committed, and a baseline from which
        every later commit is notified."""
        self._position = max(self._position, position)
        self._heard_at = self._monotonic()

    def distrust_position(self) -> None:
        """Notices may have been lost (a lost listening connection): read it again."""
        self._heard_at = -math.inf

    def notify(
        self,
        *,
        rooms: Iterable[str] = (),
        users: Iterable[str] = (),
        position: int | None = None,
    ) -> None:
        """Wake this process's waiters on `rooms` or `users` (the caller committed, up to
        stream `position` if it took any)."""
        if position is not None and position > self._position:
            self._position = position
        for room in rooms:
            for listener in self._by_room.get(room, ()):
                listener.event.set()
        for user in users:
            for listener in self._by_user.get(user, ()):
                listener.event.set()

    def wake_all(self) -> None:
        """Wake every waiter: they re-read, so a wake-up that may have been lost is not."""
        for group in self._by_user.values():
            for listener in group:
                listener.event.set()

    @property
    def waiting(self) -> int:
        return sum(len(v) for v in self._by_user.values())
