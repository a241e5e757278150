"""The sequencer when things go wrong, on both engines: a log stopped in the middle of a
batch cancels the appends in it and those still queued, commits nothing and appends on
after a restart; a caller that gives up mid-batch does not disturb the others; a stored
size without the tiles behind it, or a tree taller than tiles can name, is refused."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError

from candor.config import Settings
from candor.store.db import Database
from candor.store.models.transparency import AccessRecordSubject
from candor.transparency import repository as repo
from candor.transparency.log import _ADVISORY_KEY, TransparencyLog
from candor.transparency.merkle import MemoryTree, ProofError, leaf_hash
from candor.transparency.tiles import MAX_LEVEL, TILE_WIDTH, append_leaves
from tests.helpers.locks import holding_write_lock, wait_for_waiters


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


@pytest.fixture
async def log(db: Database) -> AsyncIterator[TransparencyLog]:
    tlog = TransparencyLog(db)
    await tlog.start()
    yield tlog
    await tlog.stop()


def clashing(index: int) -> list[tuple[type[AccessRecordSubject], dict[str, object]]]:
    """Companion rows that break their table's primary key: the batch cannot commit."""
    row: dict[str, object] = {"user_id": "@alice:test.local", "index": index}
    return [(AccessRecordSubject, row), (AccessRecordSubject, row)]


async def test_stopping_mid_batch_cancels_its_appends_and_the_queued_ones(
    db: Database, log: TransparencyLog
) -> None:
    assert await log.append(b"before") == 0
    async with holding_write_lock(db, _ADVISORY_KEY):
        gave_up = asyncio.create_task(log.append(b"given up"))
        in_flight = asyncio.create_task(log.append_many([b"a", b"b"]))
        await asyncio.sleep(0)  # both join the batch the sequencer takes next
        await wait_for_waiters(db, _ADVISORY_KEY, 1)
        queued = asyncio.create_task(log.append(b"queued"))
        await asyncio.sleep(0)
        gave_up.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gave_up

        await log.stop()

        for task in (in_flight, queued):
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=5)
    assert await log.size() == 1
    await log.start()
    assert await log.append(b"after") == 1
    assert await log.entries(0, 2) == [b"before", b"after"]


async def test_a_caller_that_gives_up_mid_batch_leaves_the_batch_to_commit(
    db: Database, log: TransparencyLog
) -> None:
    async with holding_write_lock(db, _ADVISORY_KEY):
        gave_up = asyncio.create_task(log.append(b"given up"))
        stayed = asyncio.create_task(log.append(b"stayed"))
        await asyncio.sleep(0)
        await wait_for_waiters(db, _ADVISORY_KEY, 1)
        gave_up.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gave_up

    # The entry was already in the batch: it is logged though its caller left.
    assert await stayed == 1
    assert await log.entries(0, 2) == [b"given up", b"stayed"]
    assert log.batches == 1


async def test_a_caller_that_gives_up_on_a_failing_batch_leaves_the_others_their_error(
    db: Database, log: TransparencyLog
) -> None:
    async with holding_write_lock(db, _ADVISORY_KEY):
        gave_up = asyncio.create_task(log.append(b"given up"))
        failing = asyncio.create_task(log.append(b"clashing", clashing))
        await asyncio.sleep(0)
        await wait_for_waiters(db, _ADVISORY_KEY, 1)
        gave_up.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gave_up

    with pytest.raises(IntegrityError):
        await failing
    assert await log.size() == 0
    assert await log.append(b"next") == 0


async def test_a_size_without_its_tiles_gives_no_proof(db: Database, log: TransparencyLog) -> None:
    await log.append_many([b"a", b"b", b"c"])
    async with db.write() as conn:
        await repo.set_size(conn, 5)  # as if the tiles of entries 3 and 4 were lost

    with pytest.raises(ProofError, match="no tile"):
        await log.root(5)
    tree = MemoryTree()
    for leaf in (b"a", b"b", b"c"):
        tree.append(leaf)
    assert await log.root(3) == tree.root(3)
    assert await log.leaf_hashes(0, 3) == [leaf_hash(x) for x in (b"a", b"b", b"c")]


def test_a_tree_taller_than_tiles_can_name_is_refused() -> None:
    size = TILE_WIDTH ** (MAX_LEVEL + 1) - 1  # every level's rightmost tile one short of full
    rightmost = {level: bytes([level]) * 32 * (TILE_WIDTH - 1) for level in range(MAX_LEVEL + 1)}

    with pytest.raises(ValueError, match="too tall"):
        append_leaves(size, rightmost, [bytes(32)])
