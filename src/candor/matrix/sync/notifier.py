"""Wakes waiting /sync requests when something they care about was committed.

Waiters register the user and rooms they watch *before* they read, so a commit that
lands between their read and their wait still wakes them. The notifier carries no data:
a woken waiter reads from the database. This is the one interface for wake-ups: a
single process (SQLite) uses this class as it is; with PostgreSQL, `cluster.py`'s
`ClusterNotifier` extends it so commits on any worker wake the waiters of every worker.
"""

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class Listener:
    __slots__ = ("event", "rooms", "user_id")

    def __init__(self, user_id: str, rooms: Iterable[str]) -> None:
        self.user_id = user_id
        self.rooms = set(rooms)
        self.event = asyncio.Event()


class Notifier:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Listener]] = {}
        self._by_room: dict[str, set[Listener]] = {}

    async def start(self) -> None:
        """Nothing to start in one process (`ClusterNotifier` starts listening here)."""

    async def stop(self) -> None:
        """Nothing to stop in one process."""

    @contextmanager
    def listen(self, user_id: str, rooms: Iterable[str]) -> Iterator[Listener]:
        listener = Listener(user_id, rooms)
        self._by_user.setdefault(user_id, set()).add(listener)
        for room in listener.rooms:
            self._by_room.setdefault(room, set()).add(listener)
        try:
            yield listener
        finally:
            self._discard(self._by_user, user_id, listener)
            for room in listener.rooms:
                self._discard(self._by_room, room, listener)

    @staticmethod
    def _discard(index: dict[str, set[Listener]], key: str, listener: Listener) -> None:
        group = index.get(key)
        if group is not None:
            group.discard(listener)
            if not group:
                del index[key]

    def notify(self, *, rooms: Iterable[str] = (), users: Iterable[str] = ()) -> None:
        """Wake this process's waiters on `rooms` or `users` (the caller committed)."""
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
