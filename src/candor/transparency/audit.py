"""The operator's audit: recompute the whole tree from the stored entries and compare.

Every entry's leaf hash is recomputed from its bytes, every tile from the recomputed
hashes, and every stored checkpoint's root from the recomputed tree, so an edited entry,
tile or checkpoint row is reported by name. It reads the log once, in pages.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.merkle import MemoryTree, leaf_hash
from candor.transparency.tiles import TILE_HEIGHT, TILE_WIDTH, TileID, tiles_for_size

PAGE = 10_000


@dataclass
class AuditReport:
    size: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def audit(db: Database, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    report = AuditReport()
    async with db.read() as conn:
        size = await repo.get_size(conn)
    report.size = size
    tree = MemoryTree()
    for start in range(0, size, PAGE):
        async with db.read() as conn:
            entries = await repo.list_entries(conn, start, min(size, start + PAGE))
        for index, leaf, stored_hash in entries:
            if index != tree.size:
                report.problems.append(f"entry {tree.size} is missing")
                return report
            if leaf_hash(leaf) != stored_hash:
                report.problems.append(f"entry {index}: stored leaf hash does not match its leaf")
            tree.append(leaf)
        if progress is not None:
            progress(tree.size, size)
    if tree.size != size:
        report.problems.append(f"the log says {size} entries but holds {tree.size}")
        return report
    tile_ids = [TileID(level, index) for level, index, _ in tiles_for_size(size)]
    async with db.read() as conn:
        stored = await repo.get_tiles(conn, tile_ids)
    for tile in tile_ids:
        level = tile.level * TILE_HEIGHT
        hashes = tree.levels[level] if level < len(tree.levels) else []
        want = b"".join(hashes[tile.index * TILE_WIDTH : (tile.index + 1) * TILE_WIDTH])
        got = stored.get(tile)
        if got is None or got[: len(want)] != want:
            report.problems.append(f"tile {tile.level}/{tile.index} differs from the entries")
    async with db.read() as conn:
        checkpoints = await repo.list_checkpoints(conn)
    for cp_size, root in checkpoints:
        if cp_size > size:
            report.problems.append(f"checkpoint {cp_size} is beyond the log's size {size}")
        elif tree.root(cp_size) != root:
            report.problems.append(f"checkpoint {cp_size}: root differs from the entries")
    return report
