"""Migration e5b3d8a1f6c2 on both engines, on real data: a log stored one row per entry
moves into entry bundles with nothing lost, access records get their entries' leaf hashes,
the log keeps its roots and grows on, and the downgrade rebuilds the entry rows."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from candor.store.db import Database
from candor.store.migrate import downgrade, upgrade
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree, leaf_hash
from candor.transparency.tiles import TILE_WIDTH, append_leaves, bundle_entries
from tests.helpers.databases import empty_pg_database

BEFORE = "c4a1e2b9d7f0"
N = 600  # two full bundles and tiles, a partial one, and a level-1 tile

# The tables as revision c4a1e2b9d7f0 left them.
entries_t = sa.table(
    "tlog_entries",
    sa.column("index", sa.BigInteger()),
    sa.column("leaf", sa.LargeBinary()),
    sa.column("leaf_hash", sa.LargeBinary()),
)
tiles_t = sa.table(
    "tlog_tiles",
    sa.column("level", sa.Integer()),
    sa.column("index", sa.BigInteger()),
    sa.column("hashes", sa.LargeBinary()),
)
size_t = sa.table("tlog_size", sa.column("id", sa.Integer()), sa.column("size", sa.BigInteger()))
records_t = sa.table(
    "access_records",
    sa.column("index", sa.BigInteger()),
    sa.column("salt", sa.LargeBinary()),
    sa.column("record_json", sa.Text()),
    sa.column("created_ts", sa.BigInteger()),
)
subjects_t = sa.table(
    "access_record_subjects", sa.column("user_id", sa.String()), sa.column("index", sa.BigInteger())
)
# ... and as e5b3d8a1f6c2 leaves them.
hashed_records_t = sa.table(
    "access_records", sa.column("index", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary())
)
bundles_t = sa.table(
    "tlog_bundles", sa.column("index", sa.BigInteger()), sa.column("entries", sa.LargeBinary())
)
RECORDS = (3, 257, N - 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The async URL of an empty database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    with empty_pg_database() as plain:
        yield plain.replace("postgresql://", "postgresql+asyncpg://", 1)


def old_leaves() -> list[bytes]:
    """Entries of every length a record may have, the empty one included."""
    return [b"", *(i.to_bytes(2, "big") * (1 + i % 150) for i in range(1, N))]


async def fill_old_schema(url: str, leaves: list[bytes]) -> None:
    """What the sequencer of revision c4a1e2b9d7f0 wrote: a row per entry, tiles, size, and
    access records (with no leaf hash yet) for a few of the entries."""
    hashes = [leaf_hash(leaf) for leaf in leaves]
    tiles = append_leaves(0, {}, hashes).tiles
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(entries_t),
                [
                    {"index": i, "leaf": leaf, "leaf_hash": hashes[i]}
                    for i, leaf in enumerate(leaves)
                ],
            )
            await conn.execute(
                sa.insert(tiles_t),
                [{"level": t.level, "index": t.index, "hashes": b} for t, b in tiles.items()],
            )
            await conn.execute(sa.insert(size_t), [{"id": 1, "size": len(leaves)}])
            await conn.execute(
                sa.insert(records_t),
                [
                    {"index": i, "salt": bytes(32), "record_json": f'{{"n":{i}}}', "created_ts": i}
                    for i in RECORDS
                ],
            )
            await conn.execute(
                sa.insert(subjects_t),
                [{"user_id": "@alice:test.local", "index": i} for i in RECORDS],
            )
    finally:
        await engine.dispose()


async def read_upgraded(url: str) -> tuple[list[bytes], dict[int, bytes], list[str]]:
    """(bundles in order, leaf hash of each access record, tables) after the upgrade."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            bundles = [
                bytes(b)
                for (b,) in await conn.execute(
                    sa.select(bundles_t.c.entries).order_by(bundles_t.c.index)
                )
            ]
            indices = [
                int(i)
                for (i,) in await conn.execute(
                    sa.select(bundles_t.c.index).order_by(bundles_t.c.index)
                )
            ]
            assert indices == list(range(len(bundles)))
            records = {
                int(i): bytes(h)
                for i, h in await conn.execute(
                    sa.select(hashed_records_t.c.index, hashed_records_t.c.leaf_hash)
                )
            }
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return bundles, records, tables


async def grow_upgraded(url: str, tree: MemoryTree) -> None:
    """The new log on the moved data: same roots as the reference, and it appends on top."""
    db = Database(url)
    log = TransparencyLog(db)
    await log.start()
    try:
        assert await log.size() == N
        for size in (1, 2, 255, 256, 257, 512, 513, N - 1, N):
            assert await log.root(size) == tree.root(size)
        assert await log.inclusion_proof(N - 1, N) == tree.inclusion_proof(N - 1, N)
        assert await log.entries(250, N) == [bytes(e) for e in old_leaves()[250:]]

        assert await log.append_many([b"after 1", b"after 2"]) == N
        tree.append(b"after 1")
        tree.append(b"after 2")
        assert await log.root(N + 2) == tree.root(N + 2)
        assert await log.consistency_proof(N, N + 2) == tree.consistency_proof(N, N + 2)
    finally:
        await log.stop()
        await db.dispose()


async def read_entries(url: str) -> list[tuple[int, bytes, bytes]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(entries_t.c.index, entries_t.c.leaf, entries_t.c.leaf_hash).order_by(
                    entries_t.c.index
                )
            )
            return [(int(i), bytes(leaf), bytes(h)) for i, leaf, h in rows]
    finally:
        await engine.dispose()


def test_entries_move_into_bundles_and_back(url: str) -> None:
    leaves = old_leaves()
    upgrade(url, BEFORE)
    asyncio.run(fill_old_schema(url, leaves))
    before = asyncio.run(read_entries(url))

    upgrade(url)

    bundles, records, tables = asyncio.run(read_upgraded(url))
    assert "tlog_entries" not in tables
    assert len(bundles) == -(-N // TILE_WIDTH)
    assert [e for blob in bundles for e in bundle_entries(blob)] == leaves
    assert (
        bundles
        == [  # byte for byte the C2SP bundles: 256 entries, each uint16 + bytes
            b"".join(len(e).to_bytes(2, "big") + e for e in leaves[at : at + TILE_WIDTH])
            for at in range(0, N, TILE_WIDTH)
        ]
    )
    assert records == {i: leaf_hash(leaves[i]) for i in RECORDS}
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    asyncio.run(grow_upgraded(url, tree))

    downgrade(url, BEFORE)

    after = asyncio.run(read_entries(url))
    assert after[:N] == before
    assert after[N:] == [
        (N + i, leaf, leaf_hash(leaf)) for i, leaf in enumerate([b"after 1", b"after 2"])
    ]
