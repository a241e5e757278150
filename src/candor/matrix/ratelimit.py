"""Per-user token-bucket rate limiting, in memory (a limit, not a record: nothing is stored)."""

from candor.core.clock import Clock
from candor.matrix.errors import LimitExceeded


class RateLimiter:
    def __init__(self, clock: Clock, *, enabled: bool, per_second: float, burst: int) -> None:
        self._clock = clock
        self.enabled = enabled
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str, cost: float = 1.0) -> None:
        """Take `cost` tokens from `key`'s bucket or raise M_LIMIT_EXCEEDED with a retry hint."""
        if not self.enabled:
            return
        now = self._clock.monotonic()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            raise LimitExceeded(int((cost - tokens) / self._rate * 1000) + 1)
        self._buckets[key] = (tokens - cost, now)
        if len(self._buckets) > 100_000:
            # Bound memory: full buckets carry no information, drop them.
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self._burst}
