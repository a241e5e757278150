"""The sequencer's in-memory head on both engines: two logs on one database (two workers)
append in turn without colliding, and each one's roots and proofs equal the reference
tree at every size, its own or the other's; a tiny tile cache, a failed batch and ranges
across bundle and tile boundaries change nothing."""

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy.exc import IntegrityError

from candor.config import Settings
from candor.store.db import Database
from candor.store.models.transparency import AccessRecordSubject
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree, ProofError, leaf_hash
from candor.transparency.tiles import TILE_WIDTH


@dataclass
class Workers:
    one: TransparencyLog
    two: TransparencyLog
    dbs: tuple[Database, Database]


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[Workers]:
    """Two logs, each with its own engine, on the same database."""
    dbs = (Database(settings.sqlalchemy_url()), Database(settings.sqlalchemy_url()))
    one, two = TransparencyLog(dbs[0]), TransparencyLog(dbs[1])
    await one.start()
    await two.start()
    yield Workers(one, two, dbs)
    for log in (one, two):
        await log.stop()
    for db in dbs:
        await db.dispose()


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


def batch_of(start: int, n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(start, start + n)]


async def check_at(log: TransparencyLog, tree: MemoryTree, size: int, rng: random.Random) -> None:
    """Root, an inclusion and a consistency proof at `size` equal the reference tree's."""
    assert await log.root(size) == tree.root(size)
    index = rng.randrange(size)
    assert await log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
    old = rng.randint(1, size)
    assert await log.consistency_proof(old, size) == tree.consistency_proof(old, size)


async def test_two_workers_appending_in_turn_share_one_tree(workers: Workers) -> None:
    rng = random.Random(11)
    tree = MemoryTree()
    # Batches that end inside and on tile and bundle boundaries, and cross several.
    sizes = [1, 254, 1, 1, 300, 211, 255, 1, 512, 3, 240]
    sizes_seen: list[int] = []
    for turn, n in enumerate(sizes):
        writer, reader = (workers.one, workers.two) if turn % 2 == 0 else (workers.two, workers.one)
        leaves = batch_of(tree.size, n)

        first = await writer.append_many(leaves)

        assert first == tree.size  # contiguous: no collision, no gap
        for leaf in leaves:
            tree.append(leaf)
        sizes_seen.append(tree.size)
        assert await writer.size() == await reader.size() == tree.size
        # The writer knows this size; the reader only learns it from the database.
        await check_at(writer, tree, tree.size, rng)
        await check_at(reader, tree, tree.size, rng)
    for size in sizes_seen:
        for log in (workers.one, workers.two):
            await check_at(log, tree, size, rng)
    assert await workers.one.entries(0, tree.size) == batch_of(0, tree.size)
    assert await workers.two.leaf_hashes(0, tree.size) == tree.levels[0]


async def test_two_workers_appending_at_once_keep_one_tree(workers: Workers) -> None:
    """Appends racing on both workers (as requests on two processes do): every entry gets
    its own index, none is lost, and both serve the tree of the entries as stored."""
    rng = random.Random(12)
    batches = [
        [f"w{w} b{b} e{e}".encode() for e in range(1 + (b * 37) % 90)]
        for w in (1, 2)
        for b in range(12)
    ]

    async def one_worker(log: TransparencyLog, mine: list[list[bytes]]) -> list[int]:
        return list(await asyncio.gather(*(log.append_many(batch) for batch in mine)))

    firsts = await asyncio.gather(
        one_worker(workers.one, batches[:12]), one_worker(workers.two, batches[12:])
    )

    placed: dict[int, bytes] = {}
    for first, batch in zip(firsts[0] + firsts[1], batches, strict=True):
        for offset, leaf in enumerate(batch):
            assert first + offset not in placed  # no two entries share an index
            placed[first + offset] = leaf
    size = sum(len(b) for b in batches)
    assert sorted(placed) == list(range(size))  # contiguous: no gap
    stored = await workers.one.entries(0, size)
    assert stored == [placed[i] for i in range(size)]
    tree = MemoryTree()
    for leaf in stored:
        tree.append(leaf)
    for log in (workers.one, workers.two):
        assert await log.size() == size
        await check_at(log, tree, size, rng)


async def test_the_other_workers_sizes_are_served_before_this_one_appends_again(
    workers: Workers,
) -> None:
    rng = random.Random(5)
    tree = MemoryTree()
    for leaf in batch_of(0, 700):
        tree.append(leaf)
    await workers.one.append_many(batch_of(0, 300))
    await check_at(workers.two, tree, 300, rng)  # two has never appended
    await workers.one.append_many(batch_of(300, 400))

    # Two reads sizes past anything it committed itself, then appends on top of them.
    for size in (1, 255, 256, 300, 512, 699, 700):
        await check_at(workers.two, tree, size, rng)
    assert await workers.two.append(b"after") == 700
    tree.append(b"after")
    await check_at(workers.one, tree, 701, rng)
    await check_at(workers.two, tree, 701, rng)


@pytest.mark.parametrize("cached_tiles", [0, 1])
async def test_proofs_are_right_with_a_tiny_tile_cache(db: Database, cached_tiles: int) -> None:
    rng = random.Random(3)
    log = TransparencyLog(db, cached_tiles=cached_tiles)
    await log.start()
    try:
        tree = MemoryTree()
        # Enough for many full level-0 tiles and a level-1 one: proofs need several full tiles.
        for start in range(0, 3 * TILE_WIDTH * 2 + 17, 200):
            leaves = batch_of(start, min(200, 3 * TILE_WIDTH * 2 + 17 - start))
            await log.append_many(leaves)
            for leaf in leaves:
                tree.append(leaf)
        for size in (tree.size, 2 * TILE_WIDTH, 2 * TILE_WIDTH + 1, 5 * TILE_WIDTH - 3):
            for index in (0, TILE_WIDTH, size - 1, rng.randrange(size)):
                assert await log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
            assert await log.consistency_proof(1, size) == tree.consistency_proof(1, size)
            assert await log.consistency_proof(300, size) == tree.consistency_proof(300, size)
            assert await log.root(size) == tree.root(size)
        many = await log.inclusion_proofs(range(0, tree.size, 97), tree.size)
        assert many == [tree.inclusion_proof(i, tree.size) for i in range(0, tree.size, 97)]
    finally:
        await log.stop()


Rows = list[tuple[type[AccessRecordSubject], dict[str, object]]]


def clashing(index: int) -> Rows:
    """The same subject row twice: the batch's insert breaks its primary key."""
    row: dict[str, object] = {"user_id": "@alice:test.local", "index": index}
    return [(AccessRecordSubject, row), (AccessRecordSubject, row)]


def raising(index: int) -> Rows:
    """Rows that cannot even be built: the batch fails before its inserts."""
    raise RuntimeError(f"no record for entry {index}")


@pytest.mark.parametrize(
    ("rows", "error"), [(clashing, IntegrityError), (raising, RuntimeError)], ids=["db", "python"]
)
async def test_after_a_failed_batch_the_next_append_lands_at_the_right_index(
    log: TransparencyLog, rows: Callable[[int], Rows], error: type[Exception]
) -> None:
    rng = random.Random(8)
    tree = MemoryTree()

    for n in (255, 3):
        leaves = batch_of(tree.size, n)
        assert await log.append_many(leaves) == tree.size
        for leaf in leaves:
            tree.append(leaf)
        with pytest.raises(error):
            await log.append_many(batch_of(10_000, 40), rows)
        assert await log.size() == tree.size

        assert await log.append(b"next") == tree.size
        tree.append(b"next")
        await check_at(log, tree, tree.size, rng)
    assert await log.entries(0, tree.size) == [
        *batch_of(0, 255),
        b"next",
        *batch_of(256, 3),
        b"next",
    ]
    assert await log.leaf_hashes(0, tree.size) == tree.levels[0]


async def test_ranges_across_bundle_and_tile_boundaries(log: TransparencyLog) -> None:
    leaves = [bytes([i % 256]) * (i % 50) for i in range(3 * TILE_WIDTH + 5)]
    await log.append_many(leaves[:100])
    await log.append_many(leaves[100:])
    hashes = [leaf_hash(leaf) for leaf in leaves]
    end = len(leaves)
    ranges = [
        (0, 1),
        (0, TILE_WIDTH),
        (TILE_WIDTH - 1, TILE_WIDTH + 1),
        (TILE_WIDTH, 2 * TILE_WIDTH),
        (10, 3 * TILE_WIDTH + 1),
        (3 * TILE_WIDTH, end),
        (0, end),
        (end - 1, end),
        (7, 7),
        (end, end),
    ]

    for start, stop in ranges:
        assert await log.leaf_hashes(start, stop) == hashes[start:stop], (start, stop)
        assert await log.entries(start, stop) == leaves[start:stop], (start, stop)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0, 301, "has 300 entries, not 301"),
        (299, 301, "has 300 entries, not 301"),
        (300, 513, "has 300 entries, not 513"),
        (5, 4, "bad range"),
        (-1, 3, "bad range"),
    ],
)
async def test_ranges_past_the_size_are_refused(
    log: TransparencyLog, start: int, end: int, message: str
) -> None:
    await log.append_many(batch_of(0, 300))

    with pytest.raises(ProofError, match=message):
        await log.leaf_hashes(start, end)
    with pytest.raises(ProofError, match=message):
        await log.entries(start, end)


async def test_ranges_past_the_size_are_refused_by_a_worker_that_never_appended(
    workers: Workers,
) -> None:
    await workers.one.append_many(batch_of(0, 300))

    assert await workers.two.leaf_hashes(290, 300) == [
        leaf_hash(leaf) for leaf in batch_of(290, 10)
    ]
    with pytest.raises(ProofError, match="has 300 entries, not 301"):
        await workers.two.leaf_hashes(290, 301)
    with pytest.raises(ProofError, match="has 300 entries, not 301"):
        await workers.two.root(301)


async def test_proofs_at_the_growing_edge_stay_right_as_partial_tiles_come_and_go(
    log: TransparencyLog,
) -> None:
    """Each proof at the edge reads the head's partial tiles; their levels are kept only
    while a tile keeps its width, and the memo is cleared as the edge moves on."""
    tree = MemoryTree()
    rng = random.Random(5)
    for batch in range(45):  # the level-0 partial tile changes with every batch
        leaves = [f"{batch}/{i}".encode() for i in range(300)]
        await log.append_many(leaves)
        for leaf in leaves:
            tree.append(leaf)
        size = tree.size
        index = rng.randrange(size)
        assert await log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
        assert await log.root(size) == tree.root(size)
