"""Typing notifications: ephemeral by nature, so kept in memory with an expiry.

Each change takes a serial that /sync tokens carry, so a client sees a room's typing
list again only when it changed. With several workers every worker keeps every room's
list (`on_change` announces a local change, `apply` takes another worker's), and serials
are hybrid logical clocks: max(last + 1, now in ms), also on receipt. A token written by
one worker therefore means about the same moment on another, so a client that moves
between workers sees a change it has not seen (at worst one it has seen again: harmless,
the list is state). Only changes within the same millisecond on two workers could be
ordered differently; the next typing change, which clients send every few seconds,
corrects that.
"""

from collections.abc import Callable

from candor.core.clock import Clock

# Matrix typing timeouts are capped, so a lost "stopped typing" cannot last.
_MAX_TIMEOUT_MS = 120_000


class TypingTracker:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._serial = 0
        self._rooms: dict[str, dict[str, int]] = {}
        self._changed: dict[str, int] = {}
        # (room, user, typing until in ms or 0 for stopped, serial) of each local change.
        self.on_change: Callable[[str, str, int, int], None] | None = None

    @property
    def serial(self) -> int:
        return self._serial

    def set_typing(self, room_id: str, user_id: str, typing: bool, timeout_ms: int) -> None:
        users = self._rooms.setdefault(room_id, {})
        was = user_id in users
        until = 0
        if typing:
            until = self._clock.now_ms() + min(max(timeout_ms, 0), _MAX_TIMEOUT_MS)
            users[user_id] = until
        else:
            users.pop(user_id, None)
        if typing or was:
            serial = self._tick(0)
            self._changed[room_id] = serial
            if self.on_change is not None:
                self.on_change(room_id, user_id, until, serial)

    def apply(self, room_id: str, user_id: str, until_ms: int, serial: int) -> None:
        """Another worker's change (`until_ms` 0: stopped typing)."""
        users = self._rooms.setdefault(room_id, {})
        if until_ms:
            users[user_id] = min(until_ms, self._clock.now_ms() + _MAX_TIMEOUT_MS)
        else:
            users.pop(user_id, None)
        self._changed[room_id] = self._tick(serial)

    def _tick(self, seen: int) -> int:
        self._serial = max(self._serial + 1, seen, self._clock.now_ms())
        return self._serial

    def typing_users(self, room_id: str) -> list[str]:
        now = self._clock.now_ms()
        users = self._rooms.get(room_id, {})
        expired = [u for u, until in users.items() if until <= now]
        for user in expired:
            del users[user]
        return sorted(users)

    def changed_since(self, room_id: str, serial: int) -> bool:
        return self._changed.get(room_id, 0) > serial
