"""The login back-off's rules, on a FakeClock (issue 13 item 11)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.config import LoginBackoffSettings
from candor.core.clock import FakeClock
from candor.matrix.errors import LimitExceeded
from candor.matrix.login_backoff import MAX_ENTRIES, LocalBackoff, backoff_delay_ms

SETTINGS = LoginBackoffSettings(
    free_failures=5,
    base_delay_ms=1000,
    account_max_delay_ms=60_000,
    address_max_delay_ms=900_000,
    forget_after_ms=86_400_000,
)


def test_the_delay_is_free_then_doubles_then_stops_at_the_cap() -> None:
    delays = [backoff_delay_ms(n, free=5, base_ms=1000, cap_ms=60_000) for n in range(1, 14)]

    assert delays == [0, 0, 0, 0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]


@given(st.integers(0, 10_000), st.integers(1, 50), st.integers(1, 10**6), st.integers(1, 10**9))
def test_the_delay_never_exceeds_the_cap(failures: int, free: int, base: int, cap: int) -> None:
    delay = backoff_delay_ms(failures, free=free, base_ms=base, cap_ms=cap)

    assert 0 <= delay <= cap
    assert (delay == 0) == (failures < free)


def _fail(backoff: LocalBackoff, account: str, address: str | None, times: int) -> None:
    for _ in range(times):
        backoff.begin(account, address)  # counted; no success follows


def _wait(backoff: LocalBackoff, account: str, address: str | None) -> int:
    with pytest.raises(LimitExceeded) as caught:
        backoff.begin(account, address)
    return caught.value.retry_after_ms


def test_an_attempt_during_a_delay_is_refused_and_not_counted() -> None:
    clock = FakeClock()
    backoff = LocalBackoff(clock, SETTINGS)
    _fail(backoff, "@a:x", "10.0.0.1", 5)

    assert _wait(backoff, "@a:x", "10.0.0.1") == 1000
    clock.advance(0.5)
    assert _wait(backoff, "@a:x", "10.0.0.1") == 500  # hammering does not stretch it
    clock.advance(0.5)
    backoff.begin("@a:x", "10.0.0.1")
    assert _wait(backoff, "@a:x", "10.0.0.1") == 2000


def test_a_success_resets_the_account_but_only_takes_back_its_own_attempt_at_the_address() -> None:
    clock = FakeClock()
    backoff = LocalBackoff(clock, SETTINGS)
    _fail(backoff, "@mallory:x", "10.0.0.1", 4)
    backoff.begin("@mallory:x", "10.0.0.1")
    backoff.succeeded("@mallory:x", "10.0.0.1")  # the attacker's own account

    backoff.begin("@alice:x", "10.0.0.1")  # the address still holds four failures

    assert _wait(backoff, "@other:x", "10.0.0.1") == 1000
    backoff.begin("@mallory:x", "10.0.0.2")  # the account itself starts over


def test_counts_are_forgotten_after_a_quiet_period() -> None:
    clock = FakeClock()
    backoff = LocalBackoff(clock, SETTINGS)
    _fail(backoff, "@a:x", "10.0.0.1", 5)

    clock.advance(SETTINGS.forget_after_ms / 1000)

    _fail(backoff, "@a:x", "10.0.0.1", 5)  # free again: the count started over
    assert _wait(backoff, "@a:x", "10.0.0.1") == 1000


def test_switched_off_it_never_refuses() -> None:
    backoff = LocalBackoff(FakeClock(), LoginBackoffSettings(enabled=False))

    _fail(backoff, "@a:x", "10.0.0.1", 50)

    backoff.begin("@a:x", "10.0.0.1")


def test_memory_stays_bounded_under_a_flood_of_names() -> None:
    clock = FakeClock()
    backoff = LocalBackoff(clock, LoginBackoffSettings(free_failures=2))
    for i in range(MAX_ENTRIES + 10):
        backoff.begin(f"@u{i}:x", None)

    assert len(backoff._accounts) <= MAX_ENTRIES
