"""Rate limits: the per-process token buckets (FakeClock), and the shared store that holds
one limit across workers (the real Redis at 127.0.0.1:6379, as on CI)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.clock import FakeClock
from candor.matrix.errors import LimitExceeded
from candor.matrix.ratelimit import LocalBuckets, RateLimiter


def limiter(clock: FakeClock, *, per_second: float = 1.0, burst: int = 3) -> LocalBuckets:
    return LocalBuckets(clock, per_second=per_second, burst=burst)


def test_burst_is_allowed_then_limited() -> None:
    rl = limiter(FakeClock())
    for _ in range(3):
        rl.check("@a:x")
    with pytest.raises(LimitExceeded) as info:
        rl.check("@a:x")
    assert info.value.status == 429
    assert info.value.errcode == "M_LIMIT_EXCEEDED"


def test_retry_hint_covers_the_missing_tokens() -> None:
    rl = limiter(FakeClock(), per_second=2.0, burst=1)
    rl.check("k")
    with pytest.raises(LimitExceeded) as info:
        rl.check("k")
    retry_ms = info.value.extra["retry_after_ms"]
    assert retry_ms == 501
    assert info.value.headers == {"Retry-After": "1"}


def test_tokens_refill_over_time() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=1.0, burst=2)
    rl.check("k")
    rl.check("k")
    with pytest.raises(LimitExceeded):
        rl.check("k")
    clock.advance(1.0)
    rl.check("k")
    with pytest.raises(LimitExceeded):
        rl.check("k")


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    rl = limiter(clock, burst=2)
    clock.advance(3600)
    rl.check("k")
    rl.check("k")
    with pytest.raises(LimitExceeded):
        rl.check("k")


def test_keys_have_separate_buckets() -> None:
    rl = limiter(FakeClock(), burst=1)
    rl.check("@a:x")
    rl.check("@b:x")
    with pytest.raises(LimitExceeded):
        rl.check("@a:x")


def test_cost_takes_several_tokens() -> None:
    rl = limiter(FakeClock(), burst=5)
    rl.check("k", cost=4)
    with pytest.raises(LimitExceeded):
        rl.check("k", cost=2)
    rl.check("k", cost=1)


async def test_disabled_limiter_never_limits() -> None:
    rl = RateLimiter(FakeClock(), enabled=False, per_second=0.001, burst=1)
    for _ in range(100):
        await rl.check("k")
    assert not rl.enabled


def test_a_refused_request_costs_nothing() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=1.0, burst=1)
    rl.check("k")
    for _ in range(10):
        with pytest.raises(LimitExceeded):
            rl.check("k")
    clock.advance(1.0)
    rl.check("k")


@given(
    per_second=st.floats(min_value=0.1, max_value=100),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_allowed_requests_never_exceed_burst_plus_refill(
    per_second: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=per_second, burst=burst)
    start = clock.monotonic()
    allowed = 0
    retry_hints: list[object] = []
    for gap in gaps:
        clock.advance(gap)
        try:
            rl.check("k")
        except LimitExceeded as exc:
            retry_hints.append(exc.extra["retry_after_ms"])
        else:
            allowed += 1
    elapsed = clock.monotonic() - start
    assert allowed <= burst + elapsed * per_second + 1e-6
    assert all(isinstance(ms, int) and ms >= 1 for ms in retry_hints)
