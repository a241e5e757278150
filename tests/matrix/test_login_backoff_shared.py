"""The login back-off shared by several workers through the real Redis at 127.0.0.1:6379
(CI runs one too): two `LoginBackoff`s stand for two workers; each test has its own prefix."""

import logging
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from candor.config import LoginBackoffSettings
from candor.core.clock import FakeClock
from candor.matrix.errors import LimitExceeded
from candor.matrix.login_backoff import LoginBackoff, SharedBackoff

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = b"s" * 32
SETTINGS = LoginBackoffSettings(
    free_failures=3,
    base_delay_ms=1000,
    account_max_delay_ms=60_000,
    address_max_delay_ms=900_000,
    forget_after_ms=86_400_000,
)


class Workers:
    def __init__(self, prefix: str, clock: FakeClock) -> None:
        self.prefix, self.clock = prefix, clock
        self.opened: list[LoginBackoff] = []

    def backoff(self, url: str = REDIS_URL) -> LoginBackoff:
        shared = SharedBackoff(url, key_prefix=self.prefix, key_secret=SECRET, settings=SETTINGS)
        backoff = LoginBackoff(self.clock, SETTINGS, shared)
        self.opened.append(backoff)
        return backoff


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    prefix = f"candor-test-{uuid.uuid4().hex}"
    w = Workers(prefix, FakeClock())
    yield w
    for backoff in w.opened:
        await backoff.close()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def wait_of(backoff: LoginBackoff, account: str, address: str | None) -> int:
    try:
        await backoff.begin(account, address)
    except LimitExceeded as exc:
        wait = exc.extra["retry_after_ms"]
        assert isinstance(wait, int)
        return wait
    return 0


async def test_failures_on_two_workers_add_up(workers: Workers) -> None:
    one, two = workers.backoff(), workers.backoff()
    await one.begin("@alice:x", "10.0.0.1")
    await two.begin("@alice:x", "10.0.0.2")
    await one.begin("@alice:x", "10.0.0.3")  # the third free failure, on the account
    # The delay the third failure started holds on the other worker too.
    assert await wait_of(two, "@alice:x", "10.0.0.4") == 1000
    assert await wait_of(one, "@alice:x", "10.0.0.4") == 1000
    workers.clock.advance(1.0)
    assert await wait_of(two, "@alice:x", "10.0.0.4") == 0  # admitted: the fourth failure
    assert await wait_of(one, "@alice:x", "10.0.0.5") == 2000  # and it doubled


async def test_one_address_trying_many_accounts_is_slowed_on_every_worker(
    workers: Workers,
) -> None:
    one, two = workers.backoff(), workers.backoff()
    for i, backoff in enumerate((one, two, one)):
        await backoff.begin(f"@victim{i}:x", "10.0.0.9")
    assert await wait_of(two, "@someone-else:x", "10.0.0.9") == 1000


async def test_a_success_on_one_worker_resets_the_account_on_all(workers: Workers) -> None:
    one, two = workers.backoff(), workers.backoff()
    await one.begin("@alice:x", "10.0.0.1")
    await two.begin("@alice:x", "10.0.0.2")
    await one.begin("@alice:x", "10.0.0.3")
    workers.clock.advance(1.0)
    await two.begin("@alice:x", "10.0.0.3")
    await two.succeeded("@alice:x", "10.0.0.3")
    # The account starts over everywhere; 10.0.0.3 keeps its own failure, no wait owed.
    for _ in range(2):
        await one.begin("@alice:x", "10.0.0.7")
    assert await wait_of(one, "@alice:x", "10.0.0.3") == 0


async def test_the_store_never_sees_accounts_or_addresses(workers: Workers) -> None:
    await workers.backoff().begin("@alice:example.org", "203.0.113.7")
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() async for k in client.scan_iter(match=f"{workers.prefix}:*")]
    finally:
        await client.aclose()
    assert len(keys) == 2
    assert not any("alice" in k or "203.0.113" in k for k in keys)


async def test_an_unreachable_store_counts_in_this_process(
    workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    backoff = workers.backoff(url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="candor.matrix.login_backoff"):
        for _ in range(3):
            await backoff.begin("@alice:x", None)
        assert await wait_of(backoff, "@alice:x", None) == 1000
        await backoff.succeeded("@alice:x", None)
    warnings = [r for r in caplog.records if "store unavailable" in r.message]
    assert len(warnings) == 1
