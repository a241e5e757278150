"""Wakes waiting /sync requests when something they care about was committed.

Waiters register the user and rooms they watch *before* they read, so a commit that
lands between their read and their wait still wakes them. The notifier carries no data:
a woken waiter reads from the database. This is the one interface a multi-worker
deployment swaps for PostgreSQL LISTEN/NOTIFY.
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
        for room in rooms:
            for listener in self._by_room.get(room, ()):
                listener.event.set()
        for user in users:
            for listener in self._by_user.get(user, ()):
                listener.event.set()

    @property
    def waiting(self) -> int:
        return sum(len(v) for v in self._by_user.values())
