"""The tile-backed log on SQLite and PostgreSQL: indices, roots and proofs equal the
in-memory reference tree's, concurrent appends share commits, and sizes the log never
reached are refused."""

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.store.db import Database
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree, ProofError, leaf_hash, verify_inclusion


@pytest.fixture
async def log(settings: Settings) -> AsyncIterator[TransparencyLog]:
    db = Database(settings.sqlalchemy_url())
    tlog = TransparencyLog(db)
    await tlog.start()
    yield tlog
    await tlog.stop()
    await db.dispose()


def reference(leaves: dict[int, bytes]) -> MemoryTree:
    tree = MemoryTree()
    for index in range(len(leaves)):
        tree.append(leaves[index])
    return tree


async def test_concurrent_appends_get_contiguous_indices_in_few_commits(
    log: TransparencyLog,
) -> None:
    leaves = [f"entry {i}".encode() for i in range(300)]

    indices = await asyncio.gather(*(log.append(leaf) for leaf in leaves))

    assert sorted(indices) == list(range(300))
    assert log.batches < 300  # appends that arrive together share one transaction
    assert await log.size() == 300


async def test_roots_and_proofs_equal_the_reference_tree(log: TransparencyLog) -> None:
    rng = random.Random(7)
    by_index: dict[int, bytes] = {}
    remaining = 1300  # five full level-0 tiles, a partial one, and a level-1 tile
    while remaining:
        batch = [rng.randbytes(16) for _ in range(min(remaining, rng.randint(1, 300)))]
        first = await log.append_many(batch)
        by_index.update({first + i: leaf for i, leaf in enumerate(batch)})
        remaining -= len(batch)
    tree = reference(by_index)

    for size in [1, 2, 255, 256, 257, 511, 512, 1000, 1300]:
        assert await log.root(size) == tree.root(size)
    for _ in range(40):
        size = rng.randint(1, 1300)
        index = rng.randrange(size)
        old = rng.randint(1, size)
        proof = await log.inclusion_proof(index, size)
        assert proof == tree.inclusion_proof(index, size)
        assert verify_inclusion(index, size, leaf_hash(by_index[index]), proof, tree.root(size))
        assert await log.consistency_proof(old, size) == tree.consistency_proof(old, size)
    assert await log.leaf_hashes(250, 777) == [leaf_hash(by_index[i]) for i in range(250, 777)]
    assert await log.entries(250, 777) == [by_index[i] for i in range(250, 777)]


async def test_sizes_the_log_never_reached_are_refused(log: TransparencyLog) -> None:
    await log.append_many([b"a", b"b", b"c"])

    with pytest.raises(ProofError):
        await log.inclusion_proof(0, 4)
    with pytest.raises(ProofError):
        await log.consistency_proof(2, 4)
    with pytest.raises(ProofError):
        await log.inclusion_proof(3, 3)


async def test_an_empty_append_is_refused(log: TransparencyLog) -> None:
    with pytest.raises(ValueError, match="nothing"):
        await log.append_many([])
