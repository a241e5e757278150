"""Per-key rate limits: one shared store for every worker when configured, else this process.

A limit is a limit, not a record: nothing reaches the database. With
`rate_limit.storage_url` set (Redis), every worker takes from one moving window per key
through the `limits` library, so a person's limit holds whichever worker serves them.
Without it each process keeps token buckets in memory (`LocalBuckets`): correct for one
process, and N times looser with N workers.

Keys are HMAC'd with the server's token key before they leave the process, so the shared
store never holds a user ID or a client address (`register:` keys carry one; DESIGN.md
says no address is stored), and the workers, which share that key, agree on every name.

If the store fails (down, slow, refusing), a request is never failed for it: the worker
falls back to its own buckets for `RETRY_SHARED_AFTER_S`, logging one warning, and then
tries the store again. That keeps a limit in force (per process) while the store is out,
and costs an outage at most one store timeout per `RETRY_SHARED_AFTER_S` per worker.

The shared limit is a moving window of `burst` requests per `ceil(burst / per_second)`
seconds (the `limits` strategies count whole seconds), which never allows more than the
token bucket's sustained rate; a full window's `retry_after_ms` is when its oldest request
leaves it.
"""

import asyncio
import hashlib
import hmac
import logging
import math
import time
from typing import TYPE_CHECKING

from candor.config import RateLimitSettings
from candor.core.clock import Clock
from candor.matrix.errors import LimitExceeded

if TYPE_CHECKING:
    from limits import RateLimitItem

logger = logging.getLogger(__name__)

# After a store failure, this process limits alone for this long before trying again.
RETRY_SHARED_AFTER_S = 5.0
# The longest a request waits for the store before it is decided locally.
STORE_TIMEOUT_S = 0.5


class StoreUnavailable(Exception):
    """The shared store did not answer; the caller decides in this process instead.

    Candor's own type, so callers need not import the store's client library: `limits`
    and `redis` load only when a store is configured (idle memory, issue 17)."""


# What a shared store's failure looks like to its caller (whatever the client library).
STORE_ERRORS = (StoreUnavailable, TimeoutError, OSError)


class StoreGate:
    """Whether to try the shared store now: after a failure this process decides alone for
    RETRY_SHARED_AFTER_S, with one warning, so a store that is down costs no request more
    than one timeout. Shared by the rate limits and the login back-off."""

    def __init__(self, clock: Clock, what: str, alone: str) -> None:
        self._clock = clock
        self._what = what  # e.g. "rate-limit store"
        self._alone = alone  # what this process does meanwhile, e.g. "limiting"
        self._down_until = 0.0

    def open(self) -> bool:
        return self._clock.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        self._down_until = self._clock.monotonic() + RETRY_SHARED_AFTER_S
        logger.warning(
            "%s unavailable (%s); %s per process for %g s",
            self._what,
            exc if isinstance(exc, StoreUnavailable) else type(exc).__name__,
            self._alone,
            RETRY_SHARED_AFTER_S,
        )


class LocalBuckets:
    """Token buckets in this process's memory, on the injected clock."""

    def __init__(self, clock: Clock, *, per_second: float, burst: int) -> None:
        self._clock = clock
        self._rate = per_second
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str, cost: float = 1.0) -> None:
        """Take `cost` tokens from `key`'s bucket or raise M_LIMIT_EXCEEDED with a retry hint."""
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


class SharedLimits:
    """A moving window per key in Redis, shared by every worker that names the same store
    and prefix (and holds the same token key)."""

    def __init__(
        self, url: str, *, key_prefix: str, key_secret: bytes, per_second: float, burst: int
    ) -> None:
        """`url` is `redis://…` or `rediss://…` (config.py checks). Nothing connects until
        the first check, so a store that is down at start only delays sharing."""
        from limits import RateLimitItemPerSecond  # noqa: PLC0415 - lazy: only with a store
        from limits.aio.storage import RedisStorage  # noqa: PLC0415 - lazy: only with a store
        from limits.aio.strategies import MovingWindowRateLimiter  # noqa: PLC0415 - lazy: only with a store
        from limits.errors import ConfigurationError, StorageError  # noqa: PLC0415 - lazy: only with a store

        self._store_errors = (StorageError, ConfigurationError)
        scheme_url = url if url.startswith("async+") else "async+" + url
        self._storage = RedisStorage(
            scheme_url,
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=key_prefix,
            socket_connect_timeout=STORE_TIMEOUT_S,
            socket_timeout=STORE_TIMEOUT_S,
        )
        self._strategy = MovingWindowRateLimiter(self._storage)
        window_s = max(1, math.ceil(burst / per_second))
        self._item: RateLimitItem = RateLimitItemPerSecond(burst, window_s)
        self._secret = key_secret

    def _name(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]

    async def check(self, key: str, cost: int) -> None:
        """Take `cost` from `key`'s window or raise M_LIMIT_EXCEEDED; raise
        StoreUnavailable or TimeoutError when the store does not answer."""
        name = self._name(key)
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                if await self._strategy.hit(self._item, name, cost=cost):
                    return
                stats = await self._strategy.get_window_stats(self._item, name)
        except self._store_errors as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        # The window frees its oldest slot at `reset_time` (unix seconds, as the store
        # stamps entries with the worker's wall clock).
        wait_ms = math.ceil((stats.reset_time - time.time()) * 1000)
        raise LimitExceeded(max(1, wait_ms))

    async def close(self) -> None:
        """Drop the store's connections (at shutdown)."""
        await self._storage.bridge.get_connection().aclose()  # type: ignore[attr-defined]


class RateLimiter:
    """What services call: `await check(key)`. Shared when a store is given, else local."""

    def __init__(
        self,
        clock: Clock,
        *,
        enabled: bool,
        per_second: float,
        burst: int,
        shared: SharedLimits | None = None,
    ) -> None:
        self.enabled = enabled
        self._local = LocalBuckets(clock, per_second=per_second, burst=burst)
        self._shared = shared
        self._gate = StoreGate(clock, "rate-limit store", "limiting")

    @property
    def shared(self) -> bool:
        """Whether limits are meant to hold across workers (a store is configured)."""
        return self._shared is not None

    async def check(self, key: str, cost: int = 1) -> None:
        """Take `cost` from `key`'s limit or raise M_LIMIT_EXCEEDED with `retry_after_ms`.

        Never raises anything else: a failing store means this process decides alone.
        """
        if not self.enabled:
            return
        shared = self._shared
        if shared is not None and self._gate.open():
            try:
                await shared.check(key, cost)
            except STORE_ERRORS as exc:
                self._gate.failed(exc)
            else:
                return
        self._local.check(key, cost)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()


def shared_limits(settings: RateLimitSettings, key_secret: bytes) -> SharedLimits | None:
    """The shared store `settings` names, or None to limit per process."""
    if settings.storage_url is None:
        return None
    return SharedLimits(
        settings.storage_url.get_secret_value(),
        key_prefix=settings.key_prefix,
        key_secret=key_secret,
        per_second=settings.per_second,
        burst=settings.burst,
    )
