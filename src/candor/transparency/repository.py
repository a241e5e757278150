"""SQL for the transparency log: entry bundles, tiles, the leaf index, size, checkpoints."""

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import insert_many, upsert_many
from candor.store.models.base import Base
from candor.store.models.transparency import (
    AccessRecordRow,
    AccessRecordSubject,
    TlogBundle,
    TlogCheckpoint,
    TlogSize,
    TlogTile,
)
from candor.transparency.tiles import TileID

_SIZE_ROW = 1


# Proofs run these on every request: built once (building cost more than running them).
_GET_SIZE = select(TlogSize.size).where(TlogSize.id == _SIZE_ROW)
# One level at a time: SQLite scans the whole table for a row-value IN over (level, index)
# (a cold proof at 10^7 leaves took 12 ms), but searches the key for `level = ? AND index IN`.
_GET_LEVEL_TILES = select(TlogTile.index, TlogTile.hashes).where(
    TlogTile.level == bindparam("level"), TlogTile.index.in_(bindparam("ids", expanding=True))
)
_GET_TILE = select(TlogTile.hashes).where(
    TlogTile.level == bindparam("level"), TlogTile.index == bindparam("index")
)
_GET_BUNDLES = select(TlogBundle.index, TlogBundle.entries).where(
    TlogBundle.index.in_(bindparam("ids", expanding=True))
)


async def get_size(conn: AsyncConnection) -> int:
    size = await conn.scalar(_GET_SIZE)
    return int(size or 0)


async def set_size(conn: AsyncConnection, size: int) -> None:
    await upsert_many(conn, TlogSize, [{"id": _SIZE_ROW, "size": size}], ("id",))


async def get_tiles(conn: AsyncConnection, tiles: Sequence[TileID]) -> dict[TileID, bytes]:
    """The stored content of the given tiles (absent ones are left out), a query per level."""
    if len(tiles) == 1:
        # The common case of a proof that missed the cache: the plain key lookup.
        blob = await conn.scalar(_GET_TILE, {"level": tiles[0].level, "index": tiles[0].index})
        return {} if blob is None else {tiles[0]: bytes(blob)}
    by_level: dict[int, list[int]] = {}
    for tile in tiles:
        by_level.setdefault(tile.level, []).append(tile.index)
    found: dict[TileID, bytes] = {}
    for level, indices in by_level.items():
        rows = await conn.execute(_GET_LEVEL_TILES, {"level": level, "ids": indices})
        found.update({TileID(level, r[0]): bytes(r[1]) for r in rows})
    return found


async def get_tile_range(
    conn: AsyncConnection, level: int, first: int, end: int
) -> dict[int, bytes]:
    """The stored tiles among first … end-1 of one level, by index (for audits)."""
    rows = await conn.execute(
        select(TlogTile.index, TlogTile.hashes).where(
            TlogTile.level == level, TlogTile.index >= first, TlogTile.index < end
        )
    )
    return {int(r[0]): bytes(r[1]) for r in rows}


async def set_tiles(conn: AsyncConnection, tiles: dict[TileID, bytes]) -> None:
    await upsert_many(
        conn,
        TlogTile,
        [{"level": t.level, "index": t.index, "hashes": h} for t, h in tiles.items()],
        ("level", "index"),
    )


async def get_bundles(conn: AsyncConnection, indices: Sequence[int]) -> dict[int, bytes]:
    if not indices:
        return {}
    rows = await conn.execute(_GET_BUNDLES, {"ids": list(indices)})
    return {int(r[0]): bytes(r[1]) for r in rows}


async def get_bundle_range(conn: AsyncConnection, first: int, end: int) -> list[bytes]:
    rows = await conn.execute(
        select(TlogBundle.entries)
        .where(TlogBundle.index >= first, TlogBundle.index < end)
        .order_by(TlogBundle.index)
    )
    return [bytes(r[0]) for r in rows]


async def set_bundles(conn: AsyncConnection, bundles: dict[int, bytes]) -> None:
    await upsert_many(
        conn, TlogBundle, [{"index": i, "entries": b} for i, b in bundles.items()], ("index",)
    )


# A row that commits with a log entry: the mapped class of its table, and its values.
EntryRow = tuple[type[Base], dict[str, object]]


async def insert_rows(conn: AsyncConnection, rows: Sequence[EntryRow]) -> None:
    """Insert (mapped class, row) pairs with one executemany per table, in order of first use."""
    by_table: dict[type[Base], list[dict[str, object]]] = {}
    for table, row in rows:
        by_table.setdefault(table, []).append(row)
    for table, table_rows in by_table.items():
        await insert_many(conn, table, table_rows)


async def add_checkpoint(
    conn: AsyncConnection, size: int, root_hash: bytes, note: str, ts: int
) -> None:
    await conn.execute(
        insert(TlogCheckpoint).values(size=size, root_hash=root_hash, note=note, created_ts=ts)
    )


async def get_latest_checkpoint(conn: AsyncConnection) -> tuple[int, bytes, str] | None:
    row = (
        await conn.execute(
            select(TlogCheckpoint.size, TlogCheckpoint.root_hash, TlogCheckpoint.note)
            .order_by(TlogCheckpoint.size.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row[0]), bytes(row[1]), row[2])


# --- access records ---------------------------------------------------------------------


def access_record_rows(
    index: int, salt: bytes, leaf_hash: bytes, record_json: str, ts: int, subjects: Sequence[str]
) -> list[EntryRow]:
    """The rows that store an access record with its entry (see `TransparencyLog.append`)."""
    record: dict[str, object] = {
        "index": index,
        "salt": salt,
        "leaf_hash": leaf_hash,
        "record_json": record_json,
        "created_ts": ts,
    }
    return [
        (AccessRecordRow, record),
        *((AccessRecordSubject, {"user_id": u, "index": index}) for u in sorted(set(subjects))),
    ]


async def find_access_record(conn: AsyncConnection, leaf_hash: bytes) -> int | None:
    """The index of the record whose log entry has this leaf hash."""
    index = await conn.scalar(
        select(AccessRecordRow.index).where(AccessRecordRow.leaf_hash == leaf_hash)
    )
    return None if index is None else int(index)


async def list_access_records(
    conn: AsyncConnection,
    user_id: str,
    *,
    before: int | None,
    limit: int,
    after: int | None = None,
) -> list[tuple[int, bytes, str]]:
    """(index, salt, record JSON) of the records concerning `user_id`, newest first.

    `before` pages towards older records; `after` takes the `limit` records just newer
    than an index (a "newer" link), still returned newest first.
    """
    oldest_first = after is not None and before is None
    order = AccessRecordRow.index.asc() if oldest_first else AccessRecordRow.index.desc()
    query = (
        select(AccessRecordRow.index, AccessRecordRow.salt, AccessRecordRow.record_json)
        .join(AccessRecordSubject, AccessRecordSubject.index == AccessRecordRow.index)
        .where(AccessRecordSubject.user_id == user_id)
        .order_by(order)
        .limit(limit)
    )
    if before is not None:
        query = query.where(AccessRecordRow.index < before)
    if after is not None:
        query = query.where(AccessRecordRow.index > after)
    rows = [(int(r[0]), bytes(r[1]), r[2]) for r in await conn.execute(query)]
    return rows[::-1] if oldest_first else rows


async def list_checkpoints(conn: AsyncConnection) -> list[tuple[int, bytes]]:
    rows = await conn.execute(
        select(TlogCheckpoint.size, TlogCheckpoint.root_hash).order_by(TlogCheckpoint.size)
    )
    return [(int(r[0]), bytes(r[1])) for r in rows]
