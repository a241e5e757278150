"""Typing notifications: ephemeral by nature, so kept in memory with an expiry.

Each change bumps a serial that /sync tokens carry, so a client sees a room's typing
list again only when it changed.
"""

from candor.core.clock import Clock


class TypingTracker:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._serial = 0
        self._rooms: dict[str, dict[str, int]] = {}
        self._changed: dict[str, int] = {}

    @property
    def serial(self) -> int:
        return self._serial

    def set_typing(self, room_id: str, user_id: str, typing: bool, timeout_ms: int) -> None:
        users = self._rooms.setdefault(room_id, {})
        was = user_id in users
        if typing:
            users[user_id] = self._clock.now_ms() + min(max(timeout_ms, 0), 120_000)
        else:
            users.pop(user_id, None)
        if typing or was:
            self._serial += 1
            self._changed[room_id] = self._serial

    def typing_users(self, room_id: str) -> list[str]:
        now = self._clock.now_ms()
        users = self._rooms.get(room_id, {})
        expired = [u for u, until in users.items() if until <= now]
        for user in expired:
            del users[user]
        return sorted(users)

    def changed_since(self, room_id: str, serial: int) -> bool:
        return self._changed.get(room_id, 0) > serial
