"""C2SP tlog-tiles: the tree stored as tiles of 256 hashes, and the paths that name them.

https://c2sp.org/tlog-tiles — a tile at level L holds up to 256 consecutive hashes of the
tree's level 8·L; the hashes of levels in between are recomputed from the tile below
(at most 255 SHA-256 per node). Storing the tree this way costs about 32 bytes per
leaf, appending touches only the rightmost tile of each level (O(log n) per batch), and
any complete-subtree hash a proof needs is in exactly one tile, so a proof reads
O(log n) tiles and never rebuilds the tree. The same tiles are served over HTTP for
standard tile clients. Pure functions, no I/O.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256

from candor.transparency.merkle import HASH_SIZE, Node, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_GROUP = re.compile(r"x\d{3}")
_LAST = re.compile(r"\d{3}")
MAX_LEVEL = 63


@dataclass(frozen=True, slots=True, order=True)
class TileID:
    """Tile `index` of tile level `level` (tree level 8·level)."""

    level: int
    index: int


def index_path(n: int) -> str:
    """C2SP index encoding: 3-digit groups, every group but the last prefixed with 'x'."""
    if n < 0:
        raise ValueError("negative tile index")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`; level "entries" names an entry bundle."""
    if not 0 < width <= TILE_WIDTH:
        raise ValueError("tile width must be 1..256")
    path = f"tile/{level}/{index_path(index)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def parse_tile_path(path: str) -> tuple[int | str, int, int]:
    """(level or "entries", index, width) of a tile path; ValueError if malformed.

    Strict, as the spec asks of servers: canonical index groups only, and a partial
    width of 1..255 without leading zeros.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise ValueError("not a tile path")
    level_text, rest = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width_text = rest[-1]
        if not width_text.isdigit() or width_text.startswith("0") or len(width_text) > 3:
            raise ValueError("bad partial tile width")
        width = int(width_text)
        if not 0 < width < TILE_WIDTH:
            raise ValueError("bad partial tile width")
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest or not _LAST.fullmatch(rest[-1]) or not all(_GROUP.fullmatch(g) for g in rest[:-1]):
        raise ValueError("bad tile index")
    index = int("".join(g.lstrip("x") for g in rest))
    if index_path(index) != "/".join(rest):
        raise ValueError("non-canonical tile index")
    if level_text == "entries":
        return "entries", index, width
    if not level_text.isdigit() or (level_text != "0" and level_text.startswith("0")):
        raise ValueError("bad tile level")
    level = int(level_text)
    if level > MAX_LEVEL:
        raise ValueError("bad tile level")
    return level, index, width


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """Every (level, index, width) tile of a tree of `size` leaves, level by level."""
    out: list[tuple[int, int, int]] = []
    level = 0
    count = size
    while count > 0:
        full, partial = divmod(count, TILE_WIDTH)
        out.extend((level, i, TILE_WIDTH) for i in range(full))
        if partial:
            out.append((level, full, partial))
        count >>= TILE_HEIGHT
        level += 1
    return out


def tile_width(tile: TileID, size: int) -> int:
    """How many hashes `tile` holds in a tree of `size` leaves (0 if it does not exist)."""
    count = size >> (TILE_HEIGHT * tile.level)
    return max(0, min(TILE_WIDTH, count - tile.index * TILE_WIDTH))


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of 2**k adjacent hashes of one level (a complete subtree)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def locate(node: Node) -> tuple[TileID, int, int]:
    """The tile that holds what `node` is made of: (tile, first position, count)."""
    tile_level, within = divmod(node.level, TILE_HEIGHT)
    first = node.index << within  # index among the tile level's hashes
    tile_index, position = divmod(first, TILE_WIDTH)
    return TileID(tile_level, tile_index), position, 1 << within


def tiles_needed(nodes: Sequence[Node]) -> list[TileID]:
    return sorted({locate(n)[0] for n in nodes})


def node_from_tiles(node: Node, tiles: Mapping[TileID, bytes]) -> bytes:
    """A complete-subtree hash from the tile that holds it (KeyError if not fetched)."""
    tile, position, count = locate(node)
    blob = tiles[tile]
    start, end = position * HASH_SIZE, (position + count) * HASH_SIZE
    if end > len(blob):
        raise KeyError(f"{tile} holds {len(blob) // HASH_SIZE} hashes, not {position + count}")
    return perfect_root([blob[i : i + HASH_SIZE] for i in range(start, end, HASH_SIZE)])


def tile_levels(blob: bytes) -> list[bytes]:
    """Every level inside a tile, each as one buffer: 256 hashes, 128, … 1 (255 SHA-256).

    Full tiles never change, so a reader computes this once and answers any node in the
    tile by slicing, without hashing again. One buffer per level (not a list of hashes)
    keeps a cached tile at 16 KiB. For a partial tile, each level holds only the complete
    nodes (an odd last hash waits for its sibling).
    """
    levels = [bytes(blob)]
    level = levels[0]
    pair = 2 * HASH_SIZE
    while len(level) >= pair:
        # A left and right sibling are adjacent: hash 0x01 || the 64 bytes (= node_hash).
        level = b"".join(
            [
                sha256(b"\x01" + level[i : i + pair]).digest()
                for i in range(0, len(level) - pair + 1, pair)
            ]
        )
        levels.append(level)
    return levels


def node_from_levels(node: Node, levels: Sequence[bytes]) -> bytes:
    """A node from a full tile's precomputed levels (see `tile_levels`)."""
    _, position, count = locate(node)
    within = count.bit_length() - 1
    start = (position >> within) * HASH_SIZE
    return levels[within][start : start + HASH_SIZE]


@dataclass(frozen=True, slots=True)
class Appended:
    """What an append wrote: every tile it touched, and the levels of those it filled."""

    tiles: dict[TileID, bytes]
    full: dict[TileID, list[bytes]]


def append_leaves(
    size: int, rightmost: Mapping[int, bytes], leaf_hashes: Sequence[bytes]
) -> Appended:
    """Tiles to write after appending `leaf_hashes` to a tree of `size` leaves.

    `rightmost[L]` is the current content of level L's rightmost partial tile (absent or
    empty when that level has none). Returns the new content of every tile the append
    touched (the rightmost tile of each level, and any that became full on the way) and,
    for each tile that became full, its inner levels: hashing the tile's root computes
    them anyway, and keeping them spares a reader the same 255 hashes later.
    """
    written: dict[TileID, bytes] = {}
    full: dict[TileID, list[bytes]] = {}
    tile_bytes = TILE_WIDTH * HASH_SIZE
    carry = b"".join(leaf_hashes)  # the new hashes of the current level
    level = 0
    while carry:
        if level > MAX_LEVEL:
            raise ValueError("the tree is too tall")
        before = size >> (TILE_HEIGHT * level)
        width = before % TILE_WIDTH
        start = bytes(rightmost.get(level, b""))[: width * HASH_SIZE] if width else b""
        if len(start) != width * HASH_SIZE:
            raise ValueError(f"the rightmost tile of level {level} is not {width} wide")
        buf = start + carry
        roots = []
        for n, at in enumerate(range(0, len(buf), tile_bytes)):
            tile = TileID(level, before // TILE_WIDTH + n)
            chunk = written[tile] = buf[at : at + tile_bytes]
            if len(chunk) == tile_bytes:
                # The tile is full: its root is the next hash of the level above.
                levels = full[tile] = tile_levels(chunk)
                roots.append(levels[-1])
        carry = b"".join(roots)
        level += 1
    return Appended(written, full)


# --- entry bundles -----------------------------------------------------------------------

MAX_ENTRY = 0xFFFF  # a bundle prefixes each entry with its length as a big-endian uint16


def bundle_entries(blob: bytes) -> list[bytes]:
    """The entries of a C2SP entry bundle (ValueError if it is not well formed)."""
    out: list[bytes] = []
    i = 0
    while i < len(blob):
        if i + 2 > len(blob):
            raise ValueError("truncated entry length")
        n = int.from_bytes(blob[i : i + 2], "big")
        if i + 2 + n > len(blob):
            raise ValueError("truncated entry")
        out.append(blob[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def bundle_prefix(blob: bytes, count: int) -> bytes:
    """The first `count` entries of a bundle, still in bundle form (a partial bundle)."""
    i = 0
    for _ in range(count):
        if i + 2 > len(blob):
            raise ValueError("the bundle holds fewer entries")
        i += 2 + int.from_bytes(blob[i : i + 2], "big")
    if i > len(blob):
        raise ValueError("the bundle holds fewer entries")
    return blob[:i]


def append_bundles(size: int, rightmost: bytes, leaves: Sequence[bytes]) -> dict[int, bytes]:
    """Entry bundles to write after appending `leaves` to a log of `size` entries.

    `rightmost` is the current partial bundle (empty when `size` is a multiple of 256).
    """
    if len(bundle_entries(rightmost)) != size % TILE_WIDTH:
        raise ValueError(f"the rightmost bundle does not hold {size % TILE_WIDTH} entries")
    if any(len(leaf) > MAX_ENTRY for leaf in leaves):
        raise ValueError(f"an entry is at most {MAX_ENTRY} bytes")
    encoded = [len(leaf).to_bytes(2, "big") + leaf for leaf in leaves]
    written: dict[int, bytes] = {}
    first = size % TILE_WIDTH  # entries already in the rightmost bundle
    taken = 0
    bundle = size // TILE_WIDTH
    while taken < len(encoded):
        room = TILE_WIDTH - first
        head = rightmost if first else b""
        written[bundle] = head + b"".join(encoded[taken : taken + room])
        taken += room
        first = 0
        bundle += 1
    return written
