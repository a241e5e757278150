"""The checkpointer on both engines: one checkpoint per size however many sign it at once,
a failed checkpoint is retried at the next interval, and the first tree head is signed on
demand when none is stored yet."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.store.db import Database
from candor.store.models.transparency import TlogCheckpoint
from candor.transparency import repository as repo
from candor.transparency.access import AccessLog
from candor.transparency.checkpoint import open_checkpoint
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import EMPTY_ROOT, MemoryTree
from candor.transparency.note import Signer, generate_key
from candor.transparency.service import _CHECKPOINT_LOCK, ForeignLogKey, TransparencyService
from tests.helpers.locks import holding_write_lock, wait_for_waiters

SIGNER = Signer.parse(generate_key("test.local/candor-log")[0])


@dataclass
class Env:
    db: Database
    log: TransparencyLog
    clock: FakeClock

    def service(self, interval_ms: int = 60_000, signer: Signer = SIGNER) -> TransparencyService:
        access = AccessLog(self.db, self.log, self.clock)
        return TransparencyService(self.db, self.log, access, signer, self.clock, interval_ms)

    async def checkpoints(self) -> list[int]:
        async with self.db.read() as conn:
            return [size for size, _ in await repo.list_checkpoints(conn)]


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    db = Database(settings.sqlalchemy_url())
    log = TransparencyLog(db)
    await log.start()
    yield Env(db, log, FakeClock())
    await log.stop()
    await db.dispose()


async def test_a_size_is_signed_once(env: Env) -> None:
    service = env.service()
    await env.log.append_many([b"a", b"b"])

    first = await service.make_checkpoint()
    again = await service.make_checkpoint()

    assert again == first
    assert await env.checkpoints() == [2]
    checkpoint = open_checkpoint(first, SIGNER.verifier())
    assert checkpoint.size == 2


async def test_workers_signing_the_same_size_at_once_store_one_checkpoint(env: Env) -> None:
    one, two = env.service(), env.service()
    await env.log.append_many([b"a", b"b", b"c"])

    # Both read that size 3 is unsigned, then queue to store it: the second must see the
    # first one's row, not break the primary key.
    async with holding_write_lock(env.db, _CHECKPOINT_LOCK):
        signing = [asyncio.create_task(s.make_checkpoint()) for s in (one, two)]
        await wait_for_waiters(env.db, _CHECKPOINT_LOCK, 2)
    notes = await asyncio.gather(*signing)

    assert notes[0] == notes[1]
    assert await env.checkpoints() == [3]


async def test_the_first_tree_head_is_signed_on_demand(env: Env) -> None:
    service = env.service()  # not started: nothing signed yet

    size, root, note = await service.latest_tree_head()

    assert (size, root) == (0, EMPTY_ROOT)
    assert open_checkpoint(note, SIGNER.verifier()).root_hash == EMPTY_ROOT
    assert await service.latest_checkpoint() == note
    assert await env.checkpoints() == [0]
    await service.stop()  # a checkpointer never started stops at once


async def test_a_failed_checkpoint_is_retried_at_the_next_interval(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    service = env.service(interval_ms=10)
    await service.start()
    try:
        async with env.db.write() as conn:
            await repo.set_size(conn, 5)  # a size whose tiles are not there: no root
        # The checkpointer sleeps in real time; these are bounded polls on what it did.
        await poll(lambda: "checkpoint failed; retrying" in caplog.text)
        assert any(r.levelno == logging.ERROR for r in caplog.records)
        async with env.db.write() as conn:
            await repo.set_size(conn, 0)
        await env.log.append_many([b"a", b"b", b"c"])

        await poll_async(env.checkpoints, [0, 3])
    finally:
        await service.stop()
    tree = MemoryTree()
    for leaf in (b"a", b"b", b"c"):
        tree.append(leaf)
    size, root, _ = await service.latest_tree_head()
    assert (size, root) == (3, tree.root())
    async with env.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(TlogCheckpoint)) == 2


async def poll(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the checkpointer never got there")


async def poll_async(read: Callable[[], Awaitable[list[int]]], want: list[int]) -> None:
    for _ in range(500):
        if await read() == want:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the checkpoints never became {want}")


async def test_a_worker_with_another_key_refuses_to_start(env: Env) -> None:
    first = env.service()
    await first.start()
    await env.log.append_many([b"a"])
    await first.make_checkpoint()
    await first.stop()
    # Same origin, another key: a second machine that generated its own transparency.key.
    other = Signer.parse(generate_key(SIGNER.name)[0])

    with pytest.raises(ForeignLogKey, match="another key"):
        await env.service(signer=other).start()
    same = env.service()
    await same.start()  # a copy of the first worker's key starts and signs on
    await same.stop()
    assert await env.checkpoints() == [0, 1]
