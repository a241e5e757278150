"""Progressive back-off after failed logins, per account and per client address.

A few failures are free; after that each failure makes the next attempt wait twice as
long. Two counters answer two attackers: the per-account one slows guessing at one
password from many addresses, and is capped short and reset by a successful login, so a
stranger cannot lock the owner out for long; the per-address one slows one address trying
many accounts, and is what grows (a success does not reset it, or an attacker would reset
it by logging into an account of their own). A failure is forgotten `forget_after_ms`
after the last one. Attempts made while a delay runs are refused without checking the
password and are not counted, so hammering cannot stretch a delay.

Nothing here depends on `rate_limit.enabled`: `--no-rate-limit` switches off the token
buckets (a load limit, off for benchmarks), not this (a guard against password guessing),
which has its own `login_backoff.enabled`.

Where the counters live follows the rate limits (`ratelimit.py`): with
`rate_limit.storage_url` set, every worker shares them in Redis (`SharedBackoff`: one Lua
script decides and counts atomically, so parallel attempts on two workers cannot both slip
past the free budget), under names HMAC'd with the token key, so the store holds no
account name and no client address, and each entry expires `forget_after_ms` after its last
failure. Unset, each process keeps its own (`LocalBackoff`), which multiplies an attacker's
budget by the worker count. Nothing is written to the database either way (DESIGN.md: no
client address is stored). If the store fails, the process counts alone for a while (one
warning), as the rate limits do; a login never fails for it.
"""

import asyncio
import hashlib
import hmac
from dataclasses import dataclass

from candor.config import LoginBackoffSettings, RateLimitSettings
from candor.core.clock import Clock
from candor.matrix.errors import LimitExceeded
from candor.matrix.ratelimit import (
    STORE_ERRORS,
    STORE_TIMEOUT_S,
    StoreGate,
    StoreUnavailable,
)

# Entries kept before expired ones are swept (bounds memory under a flood of names).
MAX_ENTRIES = 100_000


def backoff_delay_ms(failures: int, *, free: int, base_ms: int, cap_ms: int) -> int:
    """The wait after the `failures`-th failure: none before the `free`-th, then `base_ms`
    after it, doubling with each further failure, never more than `cap_ms`. So `free`
    attempts can be made back to back, and the next one waits."""
    over = failures - free
    if over < 0:
        return 0
    return min(cap_ms, base_ms << min(over, 62))


@dataclass(slots=True)
class _Counter:
    failures: int
    last_ms: int
    until_ms: int


class LocalBackoff:
    """The counters in this process's memory."""

    def __init__(self, clock: Clock, settings: LoginBackoffSettings) -> None:
        self._clock = clock
        self._settings = settings
        self._accounts: dict[str, _Counter] = {}
        self._addresses: dict[str, _Counter] = {}

    def begin(self, account: str, address: str | None) -> None:
        """Admit one password check, or raise M_LIMIT_EXCEEDED while a delay runs.

        Call before checking the password. A refused attempt is neither checked (a correct
        password during a delay does not log in either) nor counted. An admitted attempt
        counts as a failure at once, so parallel requests cannot all slip past the free
        budget while the password hashes run; `succeeded` takes it back.
        """
        if not self._settings.enabled:
            return
        now = self._clock.now_ms()
        wait = self._remaining(self._accounts, account, now)
        if address is not None:
            wait = max(wait, self._remaining(self._addresses, address, now))
        if wait > 0:
            raise LimitExceeded(wait)
        s = self._settings
        self._count(self._accounts, account, s.account_max_delay_ms, now)
        if address is not None:
            self._count(self._addresses, address, s.address_max_delay_ms, now)

    def succeeded(self, account: str, address: str | None) -> None:
        """The password was right: the account's count starts over, and the address's
        loses only the attempt `begin` counted (a success must not wipe it, or an attacker
        would wipe it with an account of their own)."""
        self._accounts.pop(account, None)
        entry = self._addresses.get(address) if address is not None else None
        if entry is None:
            return
        entry.failures -= 1
        # The attempt was admitted, so no wait was running before it: none is owed now.
        entry.until_ms = min(entry.until_ms, self._clock.now_ms())

    def _delay(self, failures: int, cap_ms: int) -> int:
        s = self._settings
        return backoff_delay_ms(
            failures, free=s.free_failures, base_ms=s.base_delay_ms, cap_ms=cap_ms
        )

    def _live(self, counters: dict[str, _Counter], key: str, now: int) -> _Counter | None:
        entry = counters.get(key)
        if entry is not None and now - entry.last_ms >= self._settings.forget_after_ms:
            del counters[key]
            return None
        return entry

    def _remaining(self, counters: dict[str, _Counter], key: str, now: int) -> int:
        entry = self._live(counters, key, now)
        return 0 if entry is None else max(0, entry.until_ms - now)

    def _count(self, counters: dict[str, _Counter], key: str, cap_ms: int, now: int) -> None:
        entry = self._live(counters, key, now) or _Counter(0, now, now)
        entry.failures += 1
        entry.last_ms = now
        entry.until_ms = now + self._delay(entry.failures, cap_ms)
        counters[key] = entry
        if len(counters) > MAX_ENTRIES:
            forget = self._settings.forget_after_ms
            for stale in [k for k, v in counters.items() if now - v.last_ms >= forget]:
                del counters[stale]
            if len(counters) > MAX_ENTRIES:
                # Still full (a flood of fresh names): keep only those waiting now.
                for idle in [k for k, v in counters.items() if v.until_ms <= now]:
                    del counters[idle]


# KEYS: the account's counter, then the address's (if any). ARGV: now_ms, forget_after_ms,
# free_failures, base_delay_ms, account cap, address cap. A counter is a hash
# {failures, until}; Redis expires it `forget_after_ms` after its last failure. Returns
# the wait in ms (nothing counted) or 0 (admitted and counted), as LocalBackoff.begin.
_BEGIN = """
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local free = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local caps = {tonumber(ARGV[5]), tonumber(ARGV[6])}
local wait = 0
for i, key in ipairs(KEYS) do
  local untl = tonumber(redis.call('HGET', key, 'until') or '0')
  if untl - now > wait then wait = untl - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  local over = failures - free
  local delay = 0
  if over >= 0 then delay = math.min(caps[i], base * 2 ^ math.min(over, 62)) end
  redis.call('HSET', key, 'until', now + delay)
  redis.call('PEXPIRE', key, forget)
end
return 0
"""

# KEYS: the account's counter, then the address's (if any). ARGV: now_ms. The account
# starts over; the address takes back the attempt `begin` counted, and owes no wait.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'failures', -1)
  local untl = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
  if untl > tonumber(ARGV[1]) then redis.call('HSET', KEYS[2], 'until', ARGV[1]) end
end
return 0
"""


class SharedBackoff:
    """The counters in the Redis every worker shares (`rate_limit.storage_url`)."""

    def __init__(
        self, url: str, *, key_prefix: str, key_secret: bytes, settings: LoginBackoffSettings
    ) -> None:
        # Loaded only when a store is configured (idle memory, issue 17).
        import redis.asyncio as aioredis  # noqa: PLC0415 - lazy: only with a store
        from redis.exceptions import RedisError  # noqa: PLC0415 - lazy: only with a store

        self._store_errors: tuple[type[Exception], ...] = (RedisError,)
        self._redis = aioredis.Redis.from_url(
            url.removeprefix("async+"),
            socket_connect_timeout=STORE_TIMEOUT_S,
            socket_timeout=STORE_TIMEOUT_S,
        )
        self._begin = self._redis.register_script(_BEGIN)
        self._succeeded = self._redis.register_script(_SUCCEEDED)
        self._prefix = key_prefix
        self._secret = key_secret
        self._settings = settings

    def _keys(self, account: str, address: str | None) -> list[str]:
        keys = [f"account:{account}"] + ([] if address is None else [f"address:{address}"])
        return [
            f"{self._prefix}:backoff:"
            + hmac.new(self._secret, k.encode(), hashlib.sha256).hexdigest()[:32]
            for k in keys
        ]

    async def begin(self, account: str, address: str | None, now_ms: int) -> int:
        s = self._settings
        args = [
            now_ms,
            s.forget_after_ms,
            s.free_failures,
            s.base_delay_ms,
            s.account_max_delay_ms,
            s.address_max_delay_ms,
        ]
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                wait = await self._begin(keys=self._keys(account, address), args=args)
        except self._store_errors as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        return int(wait)

    async def succeeded(self, account: str, address: str | None, now_ms: int) -> None:
        try:
            async with asyncio.timeout(STORE_TIMEOUT_S):
                await self._succeeded(keys=self._keys(account, address), args=[now_ms])
        except self._store_errors as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self._redis.aclose()


class LoginBackoff:
    """What the login paths call: shared counters when a store is given, else local."""

    def __init__(
        self,
        clock: Clock,
        settings: LoginBackoffSettings,
        shared: SharedBackoff | None = None,
    ) -> None:
        self._clock = clock
        self._settings = settings
        self._local = LocalBackoff(clock, settings)
        self._shared = shared
        self._gate = StoreGate(clock, "login back-off store", "counting")

    def _use_shared(self) -> SharedBackoff | None:
        return self._shared if self._shared is not None and self._gate.open() else None

    async def begin(self, account: str, address: str | None) -> None:
        """`LocalBackoff.begin`'s contract, across every worker when the store is shared."""
        if not self._settings.enabled:
            return
        shared = self._use_shared()
        if shared is not None:
            try:
                wait = await shared.begin(account, address, self._clock.now_ms())
            except STORE_ERRORS as exc:
                self._gate.failed(exc)
            else:
                if wait > 0:
                    raise LimitExceeded(wait)
                return
        self._local.begin(account, address)

    async def succeeded(self, account: str, address: str | None) -> None:
        shared = self._use_shared()
        if shared is not None:
            try:
                await shared.succeeded(account, address, self._clock.now_ms())
            except STORE_ERRORS as exc:
                self._gate.failed(exc)
            else:
                return
        self._local.succeeded(account, address)

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()


def shared_backoff(
    rate_limit: RateLimitSettings, settings: LoginBackoffSettings, key_secret: bytes
) -> SharedBackoff | None:
    """The shared counters in the rate limits' store, or None to count per process."""
    if rate_limit.storage_url is None:
        return None
    return SharedBackoff(
        rate_limit.storage_url.get_secret_value(),
        key_prefix=rate_limit.key_prefix,
        key_secret=key_secret,
        settings=settings,
    )
