"""SQL for the transparency log: entries, tiles, the committed size and checkpoints."""

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import upsert
from candor.store.models.transparency import (
    AccessRecordRow,
    AccessRecordSubject,
    TlogCheckpoint,
    TlogEntry,
    TlogSize,
    TlogTile,
)
from candor.transparency.tiles import TileID

_SIZE_ROW = 1


# Proofs run these on every request: built once (building cost more than running them).
_GET_SIZE = select(TlogSize.size).where(TlogSize.id == _SIZE_ROW)
_GET_TILES = select(TlogTile.level, TlogTile.index, TlogTile.hashes).where(
    tuple_(TlogTile.level, TlogTile.index).in_(bindparam("ids", expanding=True))
)


async def get_size(conn: AsyncConnection) -> int:
    size = await conn.scalar(_GET_SIZE)
    return int(size or 0)


async def set_size(conn: AsyncConnection, size: int) -> None:
    await upsert(conn, TlogSize, {"id": _SIZE_ROW, "size": size}, ("id",))


async def get_tiles(conn: AsyncConnection, tiles: Sequence[TileID]) -> dict[TileID, bytes]:
    """The stored content of the given tiles (absent ones are left out), in one query."""
    if not tiles:
        return {}
    rows = await conn.execute(_GET_TILES, {"ids": [(t.level, t.index) for t in tiles]})
    return {TileID(r[0], r[1]): bytes(r[2]) for r in rows}


async def set_tiles(conn: AsyncConnection, tiles: dict[TileID, bytes]) -> None:
    for tile, hashes in tiles.items():
        await upsert(
            conn,
            TlogTile,
            {"level": tile.level, "index": tile.index, "hashes": hashes},
            ("level", "index"),
        )


async def add_entries(
    conn: AsyncConnection, first: int, entries: Sequence[tuple[bytes, bytes]]
) -> None:
    """(leaf, leaf hash) pairs at indices first, first + 1, …"""
    await conn.execute(
        insert(TlogEntry),
        [
            {"index": first + i, "leaf": leaf, "leaf_hash": leaf_hash}
            for i, (leaf, leaf_hash) in enumerate(entries)
        ],
    )


async def get_index_of(conn: AsyncConnection, leaf_hash: bytes) -> int | None:
    index = await conn.scalar(select(TlogEntry.index).where(TlogEntry.leaf_hash == leaf_hash))
    return None if index is None else int(index)


async def list_entries(
    conn: AsyncConnection, start: int, end: int
) -> list[tuple[int, bytes, bytes]]:
    rows = await conn.execute(
        select(TlogEntry.index, TlogEntry.leaf, TlogEntry.leaf_hash)
        .where(TlogEntry.index >= start, TlogEntry.index < end)
        .order_by(TlogEntry.index)
    )
    return [(int(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]


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


async def add_access_record(
    conn: AsyncConnection,
    index: int,
    salt: bytes,
    record_json: str,
    ts: int,
    subjects: Sequence[str],
) -> None:
    await conn.execute(
        insert(AccessRecordRow).values(
            index=index, salt=salt, record_json=record_json, created_ts=ts
        )
    )
    await conn.execute(
        insert(AccessRecordSubject), [{"user_id": u, "index": index} for u in sorted(set(subjects))]
    )


async def list_access_records(
    conn: AsyncConnection, user_id: str, *, before: int | None, limit: int
) -> list[tuple[int, bytes, str]]:
    """(index, salt, record JSON) of the records concerning `user_id`, newest first."""
    query = (
        select(AccessRecordRow.index, AccessRecordRow.salt, AccessRecordRow.record_json)
        .join(AccessRecordSubject, AccessRecordSubject.index == AccessRecordRow.index)
        .where(AccessRecordSubject.user_id == user_id)
        .order_by(AccessRecordRow.index.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AccessRecordRow.index < before)
    return [(int(r[0]), bytes(r[1]), r[2]) for r in await conn.execute(query)]


async def list_checkpoints(conn: AsyncConnection) -> list[tuple[int, bytes]]:
    rows = await conn.execute(
        select(TlogCheckpoint.size, TlogCheckpoint.root_hash).order_by(TlogCheckpoint.size)
    )
    return [(int(r[0]), bytes(r[1])) for r in rows]
