"""The append-only log: one sequencer batches appends; proofs are read from tiles.

Appends queue here and run in batches, one database transaction per batch, so many
concurrent appends cost one commit (and one fsync) while each caller learns its entry's
index only once that commit is durable. Under several workers on PostgreSQL an advisory
transaction lock lets one batch run at a time, and each batch starts from the committed
size, so indices never collide or skip. An append touches the rightmost tile of each
level (O(log n) rows); a proof plans the complete subtrees it needs (`merkle.py`), reads
the few tiles that hold them in one query and never rebuilds the tree.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.merkle import (
    HASH_SIZE,
    Composite,
    Node,
    ProofError,
    consistency_plan,
    fold,
    inclusion_plan,
    leaf_hash,
    nodes_of,
    root_plan,
)
from candor.transparency.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileID,
    append_leaves,
    locate,
    node_from_levels,
    node_from_tiles,
    tile_levels,
    tiles_needed,
)

logger = logging.getLogger(__name__)

_ADVISORY_KEY = 0x544C4F47  # "TLOG"
MAX_BATCH_LEAVES = 4096
MAX_CACHED_TILES = 4096  # about 64 MiB of hashes with their inner levels


# Writes that must commit with an entry (the full access record behind a commitment):
# called inside the batch's transaction with the entry's index.
EntryWriter = Callable[[AsyncConnection, int], Awaitable[None]]


@dataclass
class _Item:
    leaves: list[bytes]
    future: "asyncio.Future[int]"
    write: EntryWriter | None = None


class TransparencyLog:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        # Full tiles never change: their inner levels are kept, so a proof over old parts
        # of the tree needs neither a query nor hashing.
        self._full_tiles: OrderedDict[TileID, list[list[bytes]]] = OrderedDict()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tlog-sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def append(self, leaf: bytes, write: EntryWriter | None = None) -> int:
        """Append one entry; returns its index once the append is durable.

        `write` runs in the same transaction as the append, so what it writes exists if
        and only if the entry does.
        """
        return await self.append_many([leaf], write)

    async def append_many(self, leaves: Sequence[bytes], write: EntryWriter | None = None) -> int:
        """Append entries in order; returns the first one's index once durable."""
        if not leaves:
            raise ValueError("nothing to append")
        if self._task is None:
            raise RuntimeError("transparency log not started")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(list(leaves), future, write))
        return await future

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            count = len(items[0].leaves)
            while not self._queue.empty() and count < MAX_BATCH_LEAVES:
                item = self._queue.get_nowait()
                items.append(item)
                count += len(item.leaves)
            try:
                firsts = await self._append_batch(items)
            except asyncio.CancelledError:
                for item in items:
                    if not item.future.done():
                        item.future.cancel()
                raise
            except Exception as exc:
                logger.exception("transparency log batch of %d entries failed", count)
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            self.batches += 1
            for item, first in zip(items, firsts, strict=True):
                if not item.future.done():
                    item.future.set_result(first)

    async def _append_batch(self, items: list[_Item]) -> list[int]:
        leaves = [leaf for item in items for leaf in item.leaves]
        hashes = [leaf_hash(leaf) for leaf in leaves]
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
            size = await repo.get_size(conn)
            rightmost = await repo.get_tiles(conn, _rightmost_tiles(size))
            tiles = append_leaves(size, {t.level: b for t, b in rightmost.items()}, hashes)
            await repo.set_tiles(conn, tiles)
            await repo.add_entries(conn, size, list(zip(leaves, hashes, strict=True)))
            await repo.set_size(conn, size + len(leaves))
            firsts: list[int] = []
            for item in items:
                firsts.append(size)
                if item.write is not None:
                    await item.write(conn, size)
                size += len(item.leaves)
        return firsts

    # --- reading ---------------------------------------------------------------------

    async def size(self) -> int:
        async with self._db.read() as conn:
            return await repo.get_size(conn)

    async def root(self, size: int) -> bytes:
        return (await self._resolve(size, [root_plan(size)]))[0]

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await self._resolve(size, inclusion_plan(index, size))

    async def inclusion_proofs(self, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """Several proofs at one size with one read: a person's page shows many at once."""
        plans = [inclusion_plan(index, size) for index in indices]
        hashes = await self._resolve(size, [part for plan in plans for part in plan])
        out: list[list[bytes]] = []
        for plan in plans:
            out.append(hashes[: len(plan)])
            hashes = hashes[len(plan) :]
        return out

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return await self._resolve(new_size, consistency_plan(old_size, new_size))

    async def index_of(self, leaf_hash_value: bytes) -> int | None:
        async with self._db.read() as conn:
            return await repo.get_index_of(conn, leaf_hash_value)

    async def _resolve(self, size: int, plans: list[Composite]) -> list[bytes]:
        nodes = nodes_of(plans)
        wanted = tiles_needed(nodes)
        missing = [t for t in wanted if t not in self._full_tiles]
        async with self._db.read() as conn:
            committed = await repo.get_size(conn)
            if size > committed:
                raise ProofError(f"the log has {committed} entries, not {size}")
            tiles = await repo.get_tiles(conn, missing)
        for tile, blob in tiles.items():
            if len(blob) == TILE_WIDTH * HASH_SIZE:
                self._full_tiles[tile] = tile_levels(blob)
        while len(self._full_tiles) > MAX_CACHED_TILES:
            self._full_tiles.popitem(last=False)
        hashes: dict[Node, bytes] = {}
        for node in nodes:
            tile = locate(node)[0]
            levels = self._full_tiles.get(tile)
            if levels is not None:
                self._full_tiles.move_to_end(tile)
                hashes[node] = node_from_levels(node, levels)
            else:
                hashes[node] = node_from_tiles(node, tiles)
        return [fold([hashes[n] for n in plan]) for plan in plans]


def _rightmost_tiles(size: int) -> list[TileID]:
    """The partial tile of each level that an append continues (none for a full level)."""
    out = []
    level = 0
    count = size
    while count > 0:
        if count % TILE_WIDTH:
            out.append(TileID(level, count // TILE_WIDTH))
        count >>= TILE_HEIGHT
        level += 1
    return out
