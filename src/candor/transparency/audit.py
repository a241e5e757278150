"""The operator's audit: recompute the whole tree from the stored entries and compare.

Every entry's leaf hash is recomputed from its bundle, every tile from the recomputed
hashes, and every stored checkpoint's root from the tree, so an edited bundle, tile or
checkpoint row is reported by name. It reads the log once, in pages.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.merkle import HASH_SIZE, MemoryTree
from candor.transparency.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    bundle_entries,
)

PAGE_BUNDLES = 64
INDEX_PAGE = 50_000


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
    bundle_count = -(-size // TILE_WIDTH)
    for first in range(0, bundle_count, PAGE_BUNDLES):
        end = min(bundle_count, first + PAGE_BUNDLES)
        async with db.read() as conn:
            bundles = await repo.get_bundle_range(conn, first, end)
        if len(bundles) != end - first:
            report.problems.append(f"an entry bundle between {first} and {end - 1} is missing")
            return report
        for number, blob in enumerate(bundles, start=first):
            try:
                leaves = bundle_entries(blob)
            except ValueError as exc:
                report.problems.append(f"entry bundle {number} is malformed: {exc}")
                return report
            want = min(TILE_WIDTH, size - number * TILE_WIDTH)
            if len(leaves) < want:
                report.problems.append(f"entry bundle {number} holds {len(leaves)} entries")
                return report
            for leaf in leaves[:want]:
                tree.append(leaf)
        if progress is not None:
            progress(tree.size, size)
    for level, count in _tile_counts(size):
        hashes = tree.levels[level * TILE_HEIGHT]
        for first in range(0, count, INDEX_PAGE // TILE_WIDTH):
            end = min(count, first + INDEX_PAGE // TILE_WIDTH)
            async with db.read() as conn:
                stored = await repo.get_tile_range(conn, level, first, end)
            for number in range(first, end):
                expected = b"".join(hashes[number * TILE_WIDTH : (number + 1) * TILE_WIDTH])
                got = stored.get(number)
                if got is None:
                    report.problems.append(f"tile {level}/{number} is missing")
                elif got[: len(expected)] != expected:
                    first_bad = (
                        next(
                            i
                            for i in range(0, len(expected), HASH_SIZE)
                            if got[i : i + HASH_SIZE] != expected[i : i + HASH_SIZE]
                        )
                        // HASH_SIZE
                        + number * TILE_WIDTH
                    )
                    node = "entry" if level == 0 else f"level-{level * TILE_HEIGHT} node"
                    report.problems.append(
                        f"tile {level}/{number} differs from the entries (first at {node} {first_bad})"
                    )
                elif got != expected:
                    report.problems.append(f"tile {level}/{number} holds more than the log")
    async with db.read() as conn:
        checkpoints = await repo.list_checkpoints(conn)
    for cp_size, root in checkpoints:
        if cp_size > size:
            report.problems.append(f"checkpoint {cp_size} is beyond the log's size {size}")
        elif tree.root(cp_size) != root:
            report.problems.append(f"checkpoint {cp_size}: root differs from the entries")
    return report


def _tile_counts(size: int) -> list[tuple[int, int]]:
    """(tile level, number of tiles) of a tree of `size` leaves."""
    out = []
    count, level = size, 0
    while count > 0:
        out.append((level, -(-count // TILE_WIDTH)))
        count >>= TILE_HEIGHT
        level += 1
    return out
