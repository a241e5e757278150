"""Time source injected everywhere, so tests control time and domain code never reads it."""

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def now_ms(self) -> int: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """Wall-clock UTC time; `monotonic` is for durations and rate limits only."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._ms = start_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._ms / 1000, UTC)

    def now_ms(self) -> int:
        return self._ms

    def monotonic(self) -> float:
        return self._ms / 1000

    def advance(self, seconds: float) -> None:
        self._ms += int(seconds * 1000)

    def set_ms(self, ms: int) -> None:
        """Jump to a point in time (tests of dated things: periods, expiry)."""
        self._ms = ms
