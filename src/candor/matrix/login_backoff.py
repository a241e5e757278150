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

The counters live in this process's memory, like the token buckets in `ratelimit.py`:
nothing is written, so no client address is ever stored (DESIGN.md). With several workers
each keeps its own counters, which multiplies an attacker's budget by the worker count;
moving them to the database (keyed by a hash of the address) comes with multi-worker.
"""

from dataclasses import dataclass

from candor.config import LoginBackoffSettings
from candor.core.clock import Clock
from candor.matrix.errors import LimitExceeded

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


class LoginBackoff:
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
