"""The multi-worker notifier's parts: typing serials, the token cache's hooks, and the
LISTEN/NOTIFY channel itself on the real PostgreSQL (delivered at commit only, never echoed,
too long becomes wake-all, a cut listener reconnects and says it may have missed messages).
The end-to-end behaviour with two real servers is in tests/e2e/test_workers.py."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from candor.core.clock import FakeClock
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.sync.cluster import ClusterNotifier
from candor.matrix.sync.typing import TypingTracker
from candor.store.broadcast import LISTENER_NAME, MAX_PAYLOAD, WAKE_ALL, PgBroadcast
from candor.store.db import Database

ROOM = "!room:localhost"


def test_a_local_typing_change_is_announced_with_its_serial() -> None:
    clock = FakeClock()
    typing = TypingTracker(clock)
    seen: list[tuple[str, str, int, int]] = []
    typing.on_change = lambda *change: seen.append(change)
    typing.set_typing(ROOM, "@a:localhost", True, 10_000)
    typing.set_typing(ROOM, "@a:localhost", False, 0)
    typing.set_typing(ROOM, "@b:localhost", False, 0)  # was not typing: no change
    now = clock.now_ms()
    assert seen == [
        (ROOM, "@a:localhost", now + 10_000, now),
        (ROOM, "@a:localhost", 0, now + 1),
    ]


def test_another_workers_change_counts_after_every_token_this_worker_gave() -> None:
    clock = FakeClock()
    here = TypingTracker(clock)
    here.set_typing("!other:localhost", "@c:localhost", True, 1000)
    given = here.serial
    # Stamped by a worker whose serial is behind (same millisecond): still after `given`.
    here.apply(ROOM, "@a:localhost", clock.now_ms() + 5000, given - 1)
    assert here.changed_since(ROOM, given)
    assert here.typing_users(ROOM) == ["@a:localhost"]
    # One ahead of this worker: this worker's later changes are stamped after it.
    here.apply(ROOM, "@b:localhost", clock.now_ms() + 5000, given + 100)
    assert here.serial >= given + 100
    here.set_typing("!other:localhost", "@c:localhost", False, 0)
    assert here.changed_since("!other:localhost", given + 100)
    here.apply(ROOM, "@a:localhost", 0, 0)
    assert here.typing_users(ROOM) == ["@b:localhost"]


def test_token_cache_tells_others_of_revocations_but_not_of_theirs() -> None:
    cache = TokenCache()
    told: list[str] = []
    cache.on_forget = told.append
    cache.put("h1", ("@a:localhost", "D1", False, False, False), cache.generation)
    cache.put("h2", ("@b:localhost", "D2", False, False, False), cache.generation)
    cache.forget_user("@a:localhost")
    assert told == ["@a:localhost"]
    assert cache.get("h1") is None
    cache.forget_local("@b:localhost")  # another worker's revocation: not re-announced
    assert told == ["@a:localhost"]
    assert cache.get("h2") is None
    started = cache.generation
    cache.clear()
    cache.put(
        "h3", ("@c:localhost", "D3", False, False, False), started
    )  # a lookup from before the clear
    assert cache.get("h3") is None


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield database
    await database.dispose()


class Inbox:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.resets = 0

    def received(self, kind: str, body: str) -> None:
        self.messages.put_nowait((kind, body))

    def reset(self) -> None:
        self.resets += 1


async def send_then_fail(broadcast: PgBroadcast, db: Database) -> None:
    async with db.write() as conn:
        await broadcast.send(conn, "k", "rolled back")
        raise RuntimeError


async def test_messages_arrive_at_commit_at_other_workers_only(db: Database) -> None:
    one, two = Inbox(), Inbox()
    first = PgBroadcast(db, one.received, one.reset)
    second = PgBroadcast(db, two.received, two.reset)
    await first.start()
    await second.start()
    try:
        with pytest.raises(RuntimeError):
            await send_then_fail(first, db)
        async with db.write() as conn:
            await first.send(conn, "k", "@a:localhost")
            await asyncio.sleep(0.05)
            assert two.messages.empty(), "delivered before the commit"
        assert await asyncio.wait_for(two.messages.get(), 5) == ("k", "@a:localhost")
        await first.publish("t", "x" * MAX_PAYLOAD)
        assert await asyncio.wait_for(two.messages.get(), 5) == (WAKE_ALL, "")
        await asyncio.sleep(0.05)
        assert one.messages.empty(), "a worker heard its own message"
        assert two.messages.empty()
    finally:
        await first.stop()
        await second.stop()


async def test_a_cut_listener_reconnects_and_reports_a_reset(db: Database, pg_url: str) -> None:
    notifier = ClusterNotifier(db)
    sender = PgBroadcast(db, lambda _k, _b: None, lambda: None)
    await notifier.start()
    try:
        notifier.heard(7)
        with notifier.listen("@a:localhost", [ROOM]) as waiting:
            pid = notifier.broadcast.backend_pid
            conn = await asyncpg.connect(pg_url)
            try:
                name = await conn.fetchval(
                    "SELECT application_name FROM pg_stat_activity WHERE pid = $1", pid
                )
                assert name == LISTENER_NAME
                await conn.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await conn.close()
            # Woken without any message: whatever was sent meanwhile was lost to it.
            await asyncio.wait_for(waiting.event.wait(), 5)
            assert notifier.broadcast.resets == 1
            assert notifier.broadcast.backend_pid not in (None, pid)
            # Commits may have gone unheard: /sync must read the position again.
            assert notifier.position is None
            waiting.event.clear()
            await sender.publish("w", f'[["{ROOM}"],[]]')  # a worker of the last version
            await asyncio.wait_for(waiting.event.wait(), 5)
            notifier.heard(7)
            waiting.event.clear()
            await sender.publish("w", f'[["{ROOM}"],[],12]')
            await asyncio.wait_for(waiting.event.wait(), 5)
            assert notifier.position == 12
    finally:
        await notifier.stop()
