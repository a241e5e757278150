"""The operator's audit on both engines: a sound log passes, and each kind of tampering with
the stored bundles, tiles and checkpoints is reported by name."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, insert, select, update

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.store.db import Database
from candor.store.models.transparency import TlogBundle, TlogCheckpoint, TlogSize, TlogTile
from candor.transparency import audit as audit_module
from candor.transparency.access import AccessLog
from candor.transparency.audit import audit
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree, leaf_hash
from candor.transparency.note import Signer, generate_key
from candor.transparency.service import TransparencyService
from candor.transparency.tiles import TILE_WIDTH

N = 600  # bundles and level-0 tiles 0, 1 (full) and 2 (88 entries); level-1 tile 0 (2 hashes)
SIGNER = Signer.parse(generate_key("test.local/candor-log")[0])


@dataclass
class Env:
    db: Database
    log: TransparencyLog
    leaves: list[bytes]


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    db = Database(settings.sqlalchemy_url())
    log = TransparencyLog(db)
    await log.start()
    clock = FakeClock()
    service = TransparencyService(db, log, AccessLog(db, log, clock), SIGNER, clock, 1000)
    leaves = [f"entry {i}".encode() for i in range(N)]
    await service.make_checkpoint()  # the empty tree
    await log.append_many(leaves[:300])
    await service.make_checkpoint()
    await log.append_many(leaves[300:])
    await service.make_checkpoint()
    yield Env(db, log, leaves)
    await log.stop()
    await db.dispose()


async def set_bundle(env: Env, index: int, blob: bytes) -> None:
    async with env.db.write() as conn:
        await conn.execute(update(TlogBundle).where(TlogBundle.index == index).values(entries=blob))


async def set_tile(env: Env, level: int, index: int, blob: bytes) -> None:
    async with env.db.write() as conn:
        await conn.execute(
            update(TlogTile)
            .where(TlogTile.level == level, TlogTile.index == index)
            .values(hashes=blob)
        )


def bundle_of(entries: list[bytes]) -> bytes:
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


async def test_a_sound_log_passes_and_reports_progress(env: Env) -> None:
    seen: list[tuple[int, int]] = []

    report = await audit(env.db, lambda done, total: seen.append((done, total)))

    assert report.ok, report.problems
    assert report.size == N
    assert seen == [(N, N)]


async def test_a_log_of_several_pages_passes(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_module, "PAGE_BUNDLES", 1)
    monkeypatch.setattr(audit_module, "INDEX_PAGE", TILE_WIDTH)
    seen: list[int] = []

    report = await audit(env.db, lambda done, total: seen.append(done))

    assert report.ok, report.problems
    assert seen == [256, 512, N]


async def test_an_empty_log_passes(settings: Settings) -> None:
    db = Database(settings.sqlalchemy_url())
    try:
        report = await audit(db)
    finally:
        await db.dispose()

    assert report.ok
    assert report.size == 0


async def test_an_edited_entry_is_found_in_its_tile_and_every_later_checkpoint(env: Env) -> None:
    entries = list(env.leaves[256:512])
    entries[5] = b"entry 261, edited"
    await set_bundle(env, 1, bundle_of(entries))

    report = await audit(env.db)

    assert report.problems == [
        "tile 0/1 differs from the entries (first at entry 261)",
        "tile 1/0 differs from the entries (first at level-8 node 1)",
        "checkpoint 300: root differs from the entries",
        f"checkpoint {N}: root differs from the entries",
    ]


async def test_an_edited_tile_is_reported(env: Env) -> None:
    tree = MemoryTree()
    for leaf in env.leaves:
        tree.append(leaf)
    hashes = tree.levels[0][512:N]
    hashes[40] = leaf_hash(b"forged")
    await set_tile(env, 0, 2, b"".join(hashes))

    report = await audit(env.db)

    assert report.problems == ["tile 0/2 differs from the entries (first at entry 552)"]


@pytest.mark.parametrize(
    ("level", "index", "extra", "problem"),
    [
        (0, 2, b"\x01" * 32, "tile 0/2 holds more than the log"),
        (1, 0, b"\x02" * 32, "tile 1/0 holds more than the log"),
    ],
)
async def test_a_tile_longer_than_the_log_is_reported(
    env: Env, level: int, index: int, extra: bytes, problem: str
) -> None:
    async with env.db.read() as conn:
        blob = await conn.scalar(
            select(TlogTile.hashes).where(TlogTile.level == level, TlogTile.index == index)
        )
    assert blob is not None
    await set_tile(env, level, index, bytes(blob) + extra)

    report = await audit(env.db)

    assert report.problems == [problem]


async def test_a_truncated_tile_is_reported(env: Env) -> None:
    async with env.db.read() as conn:
        blob = await conn.scalar(
            select(TlogTile.hashes).where(TlogTile.level == 0, TlogTile.index == 1)
        )
    assert blob is not None
    await set_tile(env, 0, 1, bytes(blob)[:-32])

    report = await audit(env.db)

    assert report.problems == ["tile 0/1 differs from the entries (first at entry 511)"]


async def test_a_missing_tile_is_reported(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(delete(TlogTile).where(TlogTile.level == 0, TlogTile.index == 2))

    report = await audit(env.db)

    assert report.problems == ["tile 0/2 is missing"]


async def test_a_missing_bundle_stops_the_audit(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(delete(TlogBundle).where(TlogBundle.index == 1))

    report = await audit(env.db)

    assert report.problems == ["an entry bundle between 0 and 2 is missing"]
    assert not report.ok


async def test_a_malformed_bundle_stops_the_audit(env: Env) -> None:
    await set_bundle(env, 2, bundle_of(env.leaves[512:N])[:-1])

    report = await audit(env.db)

    assert report.problems == ["entry bundle 2 is malformed: truncated entry"]


async def test_a_bundle_short_of_entries_stops_the_audit(env: Env) -> None:
    await set_bundle(env, 0, bundle_of(env.leaves[:255]))

    report = await audit(env.db)

    assert report.problems == ["entry bundle 0 holds 255 entries"]


async def test_a_bundle_ahead_of_the_size_is_not_a_problem(env: Env) -> None:
    # The audit reads the first `size` entries; what lies past them is not in the tree.
    await set_bundle(env, 2, bundle_of([*env.leaves[512:N], b"not yet"]))

    report = await audit(env.db)

    assert report.ok, report.problems


async def test_an_edited_checkpoint_is_reported(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(
            update(TlogCheckpoint).where(TlogCheckpoint.size == 300).values(root_hash=bytes(32))
        )

    report = await audit(env.db)

    assert report.problems == ["checkpoint 300: root differs from the entries"]


async def test_a_checkpoint_beyond_the_size_is_reported(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(
            insert(TlogCheckpoint).values(
                size=N + 5, root_hash=bytes(32), note="forged", created_ts=0
            )
        )

    report = await audit(env.db)

    assert report.problems == [f"checkpoint {N + 5} is beyond the log's size {N}"]


async def test_a_shrunk_size_leaves_checkpoints_beyond_it(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(update(TlogSize).values(size=299))

    report = await audit(env.db)

    assert "checkpoint 300 is beyond the log's size 299" in report.problems


async def test_a_missing_tile_in_the_middle_is_reported_by_its_own_name(env: Env) -> None:
    async with env.db.write() as conn:
        await conn.execute(delete(TlogTile).where(TlogTile.level == 0, TlogTile.index == 1))

    report = await audit(env.db)

    assert report.problems == ["tile 0/1 is missing"]
