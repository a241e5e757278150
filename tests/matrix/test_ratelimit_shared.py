"""Rate limits shared by several workers through the real Redis at 127.0.0.1:6379 (CI runs
one too): two limiters stand for two workers; each test uses its own key prefix."""

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr, ValidationError

from candor.config import RateLimitSettings, Settings
from candor.core.clock import FakeClock
from candor.matrix.errors import LimitExceeded
from candor.matrix.ratelimit import (
    RETRY_SHARED_AFTER_S,
    RateLimiter,
    SharedLimits,
    shared_limits,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = b"k" * 32


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"candor-test-{uuid.uuid4().hex}"
    yield name
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


class Workers:
    """Limiters that each own a store connection, as separate processes would."""

    def __init__(self) -> None:
        self.opened: list[RateLimiter] = []

    def limiter(
        self,
        prefix: str,
        *,
        per_second: float = 0.5,
        burst: int = 3,
        url: str = REDIS_URL,
        clock: FakeClock | None = None,
    ) -> RateLimiter:
        shared = SharedLimits(
            url, key_prefix=prefix, key_secret=SECRET, per_second=per_second, burst=burst
        )
        rl = RateLimiter(
            clock or FakeClock(),
            enabled=True,
            per_second=per_second,
            burst=burst,
            shared=shared,
        )
        self.opened.append(rl)
        return rl


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    w = Workers()
    yield w
    for rl in w.opened:
        await rl.close()


async def test_two_workers_share_one_limit(prefix: str, workers: Workers) -> None:
    first, second = workers.limiter(prefix), workers.limiter(prefix)
    await first.check("@alice:x")
    await second.check("@alice:x")
    await first.check("@alice:x")
    for rl in (first, second):
        with pytest.raises(LimitExceeded) as info:
            await rl.check("@alice:x")
        retry_ms = info.value.extra["retry_after_ms"]
        # burst 3 at 0.5/s is a 6 s window: the oldest request leaves it within 6 s.
        assert isinstance(retry_ms, int)
        assert 1 <= retry_ms <= 6000
        assert info.value.errcode == "M_LIMIT_EXCEEDED"


async def test_keys_and_prefixes_are_separate(prefix: str, workers: Workers) -> None:
    first, second = workers.limiter(prefix, burst=1), workers.limiter(prefix, burst=1)
    await first.check("@alice:x")
    await second.check("@bob:x")
    with pytest.raises(LimitExceeded):
        await second.check("@alice:x")
    other_deployment = workers.limiter(prefix + "-other", burst=1)
    await other_deployment.check("@alice:x")


async def test_cost_counts_against_the_shared_window(prefix: str, workers: Workers) -> None:
    first, second = workers.limiter(prefix, burst=5), workers.limiter(prefix, burst=5)
    await first.check("k", cost=4)
    with pytest.raises(LimitExceeded):
        await second.check("k", cost=2)
    await second.check("k", cost=1)


async def test_the_store_never_sees_user_ids_or_addresses(prefix: str, workers: Workers) -> None:
    rl = workers.limiter(prefix)
    await rl.check("@alice:example.org")
    await rl.check("register:203.0.113.7")
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() async for k in client.scan_iter(match=f"{prefix}:*")]
    finally:
        await client.aclose()
    assert len(keys) == 2
    assert not any("alice" in k or "203.0.113" in k for k in keys)


async def test_an_unreachable_store_falls_back_to_this_process(
    prefix: str, workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    # Port 1 refuses at once: nothing listens there.
    rl = workers.limiter(prefix, url="redis://127.0.0.1:1/0", burst=2, clock=clock)
    with caplog.at_level(logging.WARNING, logger="candor.matrix.ratelimit"):
        await rl.check("@alice:x")
        await rl.check("@alice:x")
        with pytest.raises(LimitExceeded) as info:
            await rl.check("@alice:x")
    assert info.value.extra["retry_after_ms"] == 2001  # the local bucket: one token at 0.5/s
    warnings = [r for r in caplog.records if "rate-limit store unavailable" in r.message]
    assert len(warnings) == 1  # one warning, not one per request
    assert rl.shared


async def test_the_store_is_tried_again_after_an_outage(
    prefix: str, workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    rl = workers.limiter(prefix, url="redis://127.0.0.1:1/0", burst=10, clock=clock)

    def attempts() -> int:
        return sum("rate-limit store unavailable" in r.message for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="candor.matrix.ratelimit"):
        await rl.check("k")
        clock.advance(RETRY_SHARED_AFTER_S / 2)
        await rl.check("k")
        assert attempts() == 1  # within the outage window nobody waits for the store
        clock.advance(RETRY_SHARED_AFTER_S)
        await rl.check("k")
        assert attempts() == 2  # tried again, and failed again


def test_the_store_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no candor.toml
    assert shared_limits(Settings().rate_limit, SECRET) is None  # unset: per process
    monkeypatch.setenv("CANDOR_RATE_LIMIT__STORAGE_URL", REDIS_URL)
    settings = Settings()
    assert settings.rate_limit.storage_url is not None
    assert settings.rate_limit.storage_url.get_secret_value() == REDIS_URL
    assert isinstance(shared_limits(settings.rate_limit, SECRET), SharedLimits)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "memcached://127.0.0.1", "6379"])
def test_a_store_that_is_not_redis_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="redis"):
        RateLimitSettings(storage_url=SecretStr(url))
