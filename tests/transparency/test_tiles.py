"""C2SP tlog-tiles: paths and tile sets against the published vectors; tiles built by appends
give exactly the tree's hashes, however the appends are batched."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candor.transparency.merkle import (
    MemoryTree,
    Node,
    consistency_plan,
    inclusion_plan,
    nodes_of,
    root_plan,
)
from candor.transparency.tiles import (
    TILE_WIDTH,
    TileID,
    append_leaves,
    index_path,
    node_from_levels,
    node_from_tiles,
    parse_tile_path,
    tile_levels,
    tile_path,
    tile_width,
    tiles_for_size,
    tiles_needed,
)
from tests.helpers.testdata import data_path

VECTORS = json.loads(data_path("transparency", "tlog_tiles_vectors.json").read_text())


@pytest.mark.parametrize("case", VECTORS["index_paths"], ids=lambda c: str(c["n"]))
def test_index_paths(case: dict[str, Any]) -> None:
    assert index_path(case["n"]) == case["path"]


@pytest.mark.parametrize("case", VECTORS["tile_paths"], ids=lambda c: c["path"])
def test_tile_paths_format_and_parse(case: dict[str, Any]) -> None:
    assert tile_path(case["level"], case["n"], case["width"]) == case["path"]
    assert parse_tile_path(case["path"]) == (case["level"], case["n"], case["width"])


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/0001",
        "tile/0/x000/001",
        "tile/0/1",
        "tile/00/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/x001",
        "tile/0",
        "tiles/0/000",
        "tile/a/000",
        "tile/0/x1000/000",
    ],
)
def test_malformed_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_tile_path(path)


def test_bad_arguments_to_the_formatters() -> None:
    with pytest.raises(ValueError, match="negative"):
        index_path(-1)
    with pytest.raises(ValueError, match="width"):
        tile_path(0, 0, 0)


@pytest.mark.parametrize("case", VECTORS["tiles_for_size"], ids=lambda c: str(c["size"]))
def test_tiles_of_a_tree(case: dict[str, Any]) -> None:
    tiles = tiles_for_size(case["size"])
    if "tiles" in case:
        assert [list(t) for t in tiles] == case["tiles"]
    else:
        summary: dict[str, dict[str, int]] = {}
        for level, _, width in tiles:
            entry = summary.setdefault(str(level), {"full": 0, "partial_width": 0})
            if width == TILE_WIDTH:
                entry["full"] += 1
            else:
                entry["partial_width"] = width
        assert summary == case["summary"]
    assert all(tile_width(TileID(level, index), case["size"]) == w for level, index, w in tiles)


def build(sizes: list[int]) -> tuple[MemoryTree, dict[TileID, bytes]]:
    """Append batches of the given sizes, as the sequencer would, keeping every tile."""
    tree = MemoryTree()
    store: dict[TileID, bytes] = {}
    for batch in sizes:
        size = tree.size
        rightmost = {
            t.level: store.get(t, b"")
            for t in (TileID(level, (size >> (8 * level)) // TILE_WIDTH) for level in range(4))
        }
        hashes = []
        for _ in range(batch):
            tree.append(tree.size.to_bytes(8, "big"))
            hashes.append(tree.levels[0][-1])
        appended = append_leaves(size, rightmost, hashes)
        store.update(appended.tiles)
        for tile, levels in appended.full.items():
            assert levels == tile_levels(store[tile])
    return tree, store


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(1, 700), min_size=1, max_size=8), data=st.data())
def test_tiles_hold_the_trees_hashes_whatever_the_batching(
    batches: list[int], data: st.DataObject
) -> None:
    tree, store = build(batches)
    size = tree.size

    assert {(t.level, t.index, len(b) // 32) for t, b in store.items()} == set(tiles_for_size(size))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    plans = inclusion_plan(index, size) + consistency_plan(old, size) + [root_plan(size)]
    nodes = nodes_of(plans)
    fetched = {tile: store[tile] for tile in tiles_needed(nodes)}
    for node in nodes:
        assert node_from_tiles(node, fetched) == tree.node(node)


def test_a_node_past_the_end_of_its_tile_is_not_there() -> None:
    _, store = build([10])

    with pytest.raises(KeyError):
        node_from_tiles(Node(4, 0), store)


def test_a_rightmost_tile_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="wide"):
        append_leaves(5, {0: b"x" * 32}, [b"y" * 32])


def test_a_full_tiles_inner_levels_answer_every_node_in_it() -> None:
    tree, store = build([600])
    levels = tile_levels(store[TileID(0, 1)])

    assert [len(level) // 32 for level in levels] == [256, 128, 64, 32, 16, 8, 4, 2, 1]
    for level in range(8):
        for index in range(256 >> level, 512 >> level):
            assert node_from_levels(Node(level, index), levels) == tree.node(Node(level, index))
