"""The append-only log: one sequencer batches appends; proofs come from tiles in memory.

Appends queue here and run in batches, one database transaction per batch, so many
concurrent appends cost one commit (and one fsync) while each caller learns its entry's
index only once that commit is durable. Under several workers on PostgreSQL an advisory
transaction lock lets one batch run at a time, and each batch starts from the committed
size, so indices never collide or skip.

The sequencer keeps the log's head in memory once committed: the size, the rightmost
partial tile of each level and the partial entry bundle. A batch then reads one row
(the size, to notice another worker's appends) and writes O(log n) rows: the entries go
into bundles of 256 and their hashes into tiles, so no row is written per entry. Full tiles never change, so their inner levels are kept in an
LRU cache; the sequencer fills it as tiles complete. A proof at a size this process has
seen committed plans the complete subtrees it needs (`merkle.py`) and, when they are in
memory, answers without a query; otherwise it reads the few tiles it lacks in one query.
Nothing ever rebuilds the tree.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256

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
    root_plan,
)
from candor.transparency.tiles import (
    MAX_ENTRY,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileID,
    append_bundles,
    append_leaves,
    bundle_entries,
    locate,
    tile_levels,
)

logger = logging.getLogger(__name__)

_ADVISORY_KEY = 0x544C4F47  # "TLOG"
MAX_BATCH_LEAVES = 4096
MAX_LEVEL_TILES = 8  # tile levels of a 2**64-leaf tree
DEFAULT_CACHED_TILES = 4096  # 16 KiB each with their inner levels: 64 MiB


# Rows that must commit with an entry (the full access record behind a commitment): given
# the entry's index, the (mapped class, row) pairs to insert in the batch's transaction.
# Rows, not a callback that runs statements: a batch inserts all its items' rows with one
# executemany per table, which kept `record_access` fast with 100 appenders at once.
EntryRows = Callable[[int], Sequence[repo.EntryRow]]


@dataclass
class _Item:
    leaves: list[bytes]
    future: "asyncio.Future[int]"
    rows: EntryRows | None = None


@dataclass(frozen=True, slots=True)
class _Head:
    """The committed log's rightmost edge: what the next append continues."""

    size: int
    tiles: dict[TileID, bytes]  # the rightmost partial tile of each level
    bundle: bytes  # the partial entry bundle (empty at a multiple of 256)


class TransparencyLog:
    def __init__(self, db: Database, *, cached_tiles: int = DEFAULT_CACHED_TILES) -> None:
        self._db = db
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._head: _Head | None = None
        self._seen_size = 0  # the largest committed size read from the database
        self._cache_limit = cached_tiles
        self._full_tiles: OrderedDict[TileID, list[bytes]] = OrderedDict()
        self._partials: dict[TileID, list[bytes]] = {}
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tlog-sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Appends still queued never ran: cancel them like the batch in flight, or their
        # callers would wait forever.
        while not self._queue.empty():
            self._queue.get_nowait().future.cancel()

    async def append(self, leaf: bytes, rows: EntryRows | None = None) -> int:
        """Append one entry; returns its index once the append is durable.

        `rows` are inserted in the same transaction as the append, so they exist if and
        only if the entry does. If they cannot be inserted, the whole batch fails.
        """
        return await self.append_many([leaf], rows)

    async def append_many(self, leaves: Sequence[bytes], rows: EntryRows | None = None) -> int:
        """Append entries in order; returns the first one's index once durable."""
        if not leaves:
            raise ValueError("nothing to append")
        if any(len(leaf) > MAX_ENTRY for leaf in leaves):
            raise ValueError(f"an entry is at most {MAX_ENTRY} bytes")
        if self._task is None:
            raise RuntimeError("transparency log not started")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(list(leaves), future, rows))
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
                self._head = None
                for item in items:
                    if not item.future.done():
                        item.future.cancel()
                raise
            except Exception as exc:
                self._head = None  # the transaction's outcome is unknown: reload next time
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
        hashes = [sha256(b"\x00" + leaf).digest() for leaf in leaves]  # merkle.leaf_hash
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
            size = await repo.get_size(conn)
            head = self._head
            if head is None or head.size != size:
                head = await _load_head(conn, size)  # first batch, or another worker's
            appended = append_leaves(size, {t.level: b for t, b in head.tiles.items()}, hashes)
            bundles = append_bundles(size, head.bundle, leaves)
            await repo.set_tiles(conn, appended.tiles)
            await repo.set_bundles(conn, bundles)
            new_size = size + len(leaves)
            await repo.set_size(conn, new_size)
            firsts: list[int] = []
            extra: list[repo.EntryRow] = []
            at = size
            for item in items:
                firsts.append(at)
                if item.rows is not None:
                    extra.extend(item.rows(at))
                at += len(item.leaves)
            await repo.insert_rows(conn, extra)
        # Committed: advance the head and keep the tiles that became full.
        tiles = {t: appended.tiles.get(t) or head.tiles[t] for t in _rightmost_tiles(new_size)}
        bundle = bundles[new_size // TILE_WIDTH] if new_size % TILE_WIDTH else b""
        self._head = _Head(new_size, tiles, bundle)
        for tile, levels in appended.full.items():
            self._cache(tile, levels)
        return firsts

    def _partial_levels(self, tile: TileID, blob: bytes) -> list[bytes]:
        """A partial tile's levels, kept while the tile keeps this width.

        Proofs near the log's right edge read the same few partial tiles again and again;
        hashing up to 255 nodes for each proof cost more than the rest of the proof.
        """
        known = self._partials.get(tile)
        if known is not None and len(known[0]) == len(blob):
            return known
        levels = tile_levels(blob)
        if len(self._partials) >= 4 * (MAX_LEVEL_TILES + 1):
            self._partials.clear()
        self._partials[tile] = levels
        return levels

    def _cache(self, tile: TileID, levels: list[bytes]) -> None:
        self._full_tiles[tile] = levels
        self._full_tiles.move_to_end(tile)
        while len(self._full_tiles) > self._cache_limit:
            self._full_tiles.popitem(last=False)

    # --- reading ---------------------------------------------------------------------

    async def size(self) -> int:
        """The committed size, read from the database (another worker may be ahead)."""
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

    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of entries start … end-1 (from the level-0 tiles)."""
        if not 0 <= start <= end:
            raise ProofError("bad range")
        if start == end:
            return []
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        blobs = await self._tiles(end, [TileID(0, i) for i in range(first, last + 1)])
        joined = b"".join(blobs[TileID(0, i)] for i in range(first, last + 1))
        offset = first * TILE_WIDTH
        return [
            joined[(i - offset) * HASH_SIZE : (i - offset + 1) * HASH_SIZE]
            for i in range(start, end)
        ]

    async def entries(self, start: int, end: int) -> list[bytes]:
        """The entries start … end-1 themselves, from their bundles."""
        if not 0 <= start <= end:
            raise ProofError("bad range")
        if start == end:
            return []
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        async with self._db.read() as conn:
            committed = await repo.get_size(conn)
            if end > committed:
                raise ProofError(f"the log has {committed} entries, not {end}")
            bundles = await repo.get_bundles(conn, list(range(first, last + 1)))
        out: list[bytes] = []
        for i in range(first, last + 1):
            out.extend(bundle_entries(bundles[i]))
        offset = first * TILE_WIDTH
        return out[start - offset : end - offset]

    async def _tiles(self, size: int, wanted: Sequence[TileID]) -> dict[TileID, bytes]:
        """Level hashes of the wanted tiles as of `size` (full ones from the cache)."""
        found: dict[TileID, bytes] = {}
        missing: list[TileID] = []
        head = self._head
        known = head is not None and size <= head.size
        seen = size <= self._seen_size  # committed once, so committed for good
        for tile in wanted:
            levels = self._full_tiles.get(tile)
            if levels is not None:
                found[tile] = levels[0]
            elif known and head is not None and tile in head.tiles:
                found[tile] = head.tiles[tile]
            else:
                missing.append(tile)
        if missing or not (known or seen):
            async with self._db.read() as conn:
                if not (known or seen):
                    committed = await repo.get_size(conn)
                    if size > committed:
                        raise ProofError(f"the log has {committed} entries, not {size}")
                    self._seen_size = max(self._seen_size, committed)
                found.update(await repo.get_tiles(conn, missing))
        return found

    async def _resolve(self, size: int, plans: list[Composite]) -> list[bytes]:
        # Hot path (every proof): each node is located once, and when every tile is in
        # memory at a size known to be committed, nothing is awaited at all.
        where = {node: locate(node) for plan in plans for node in plan}
        cache = self._full_tiles
        # The full tiles this proof reads, held here: caching the fetched ones (or the
        # sequencer, while this awaits) may evict the others from the LRU cache.
        full: dict[TileID, list[bytes]] = {}
        missing: list[TileID] = []
        for tile in {w[0] for w in where.values()}:
            levels = cache.get(tile)
            if levels is not None:
                cache.move_to_end(tile)
                full[tile] = levels
            else:
                missing.append(tile)
        head = self._head
        if missing or not ((head is not None and size <= head.size) or size <= self._seen_size):
            fetched = await self._tiles(size, sorted(missing))
            for tile, blob in fetched.items():
                if len(blob) == TILE_WIDTH * HASH_SIZE:
                    full[tile] = tile_levels(blob)
                    self._cache(tile, full[tile])
                else:
                    full[tile] = self._partial_levels(tile, blob)
        hashes: dict[Node, bytes] = {}
        for node, (tile, position, count) in where.items():
            levels = full.get(tile)
            within = count.bit_length() - 1
            start = (position >> within) * HASH_SIZE
            if levels is None or within >= len(levels) or start + HASH_SIZE > len(levels[within]):
                raise ProofError(f"the log has no tile {tile} at size {size}")
            hashes[node] = levels[within][start : start + HASH_SIZE]
        return [fold([hashes[n] for n in plan]) for plan in plans]


async def _load_head(conn: AsyncConnection, size: int) -> _Head:
    tiles = await repo.get_tiles(conn, _rightmost_tiles(size))
    bundle = b""
    if size % TILE_WIDTH:
        bundle = (await repo.get_bundles(conn, [size // TILE_WIDTH]))[size // TILE_WIDTH]
    return _Head(size, tiles, bundle)


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
