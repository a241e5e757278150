"""RFC 6962 / RFC 9162 Merkle hashing and proofs against the published vectors, plus properties.

The vectors are read from tests/data/transparency (see tests/data/README.md): the RFC
hasher cases and the 8-leaf tree with every proof, the RFC's own 7-leaf example,
transparency-dev's probes (mostly mutated, invalid proofs) and a 100-leaf sumdb tree.
"""

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.transparency.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    Node,
    ProofError,
    consistency_plan,
    fill_all,
    inclusion_plan,
    leaf_hash,
    node_hash,
    nodes_of,
    range_nodes,
    root_from_inclusion_proof,
    root_plan,
    verify_consistency,
    verify_inclusion,
)
from tests.helpers.testdata import data_path

VECTORS = data_path("transparency")


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


RFC = load("rfc6962_vectors.json")
PROBES = load("transparency_dev_merkle_probes.json")
SUMDB = load("sumdb_tlog_tree_vectors.json")


def hx(value: str) -> bytes:
    return bytes.fromhex(value)


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def tree_of(leaves: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


RFC_TREE = tree_of([hx(x) for x in RFC["tree"]["leaves_hex"]])
SUMDB_TREE = tree_of([(SUMDB["leaf_format"] % i).encode() for i in range(SUMDB["num_leaves"])])


# --- RFC 6962 vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("case", RFC["hasher"], ids=lambda c: c["desc"])
def test_hasher(case: dict[str, str]) -> None:
    if case["kind"] == "empty":
        got = EMPTY_ROOT
    elif case["kind"] == "leaf":
        got = leaf_hash(hx(case["input_hex"]))
    else:
        got = node_hash(hx(case["left_hex"]), hx(case["right_hex"]))
    assert got.hex() == case["want_hex"]


def test_leaf_hashes_and_roots_of_every_size() -> None:
    tree = RFC["tree"]
    assert [h.hex() for h in RFC_TREE.levels[0]] == tree["leaf_hashes_hex"]
    assert [RFC_TREE.root(n).hex() for n in range(9)] == tree["roots_hex_by_size"]


def test_complete_subtree_hashes() -> None:
    for level, hashes in enumerate(RFC["tree"]["complete_subtree_hashes_by_level"]):
        assert [RFC_TREE.node(Node(level, i)).hex() for i in range(len(hashes))] == hashes


@pytest.mark.parametrize(
    "case", RFC["inclusion"], ids=lambda c: f"{c['leaf_index']}-in-{c['tree_size']}"
)
def test_inclusion_proofs(case: dict[str, Any]) -> None:
    proof = RFC_TREE.inclusion_proof(case["leaf_index"], case["tree_size"])

    assert [p.hex() for p in proof] == case["proof_hex"]
    assert verify_inclusion(
        case["leaf_index"],
        case["tree_size"],
        hx(case["leaf_hash_hex"]),
        proof,
        hx(case["root_hex"]),
    )


@pytest.mark.parametrize("case", RFC["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_consistency_proofs(case: dict[str, Any]) -> None:
    proof = RFC_TREE.consistency_proof(case["size1"], case["size2"])

    assert [p.hex() for p in proof] == case["proof_hex"]
    assert verify_consistency(
        case["size1"], case["size2"], hx(case["root1_hex"]), hx(case["root2_hex"]), proof
    )


@pytest.mark.parametrize(
    "check", RFC["rfc6962_section_2_1_3_example"]["checks"], ids=lambda c: c["desc"]
)
def test_the_rfcs_own_example(check: dict[str, Any]) -> None:
    example = RFC["rfc6962_section_2_1_3_example"]
    names = {bytes.fromhex(v): k for k, v in example["nodes_hex"].items()}
    seven = tree_of([hx(x) for x in RFC["tree"]["leaves_hex"][:7]])

    if check["kind"] == "inclusion":
        proof = seven.inclusion_proof(check["m"], check["n"])
    else:
        proof = seven.consistency_proof(check["m"], check["n"])

    assert [names[p] for p in proof] == check["expect_names"]
    assert seven.root().hex() == example["nodes_hex"]["hash"]


# --- transparency-dev probes (mostly invalid proofs) -------------------------------------------


@pytest.mark.parametrize("case", PROBES["inclusion"], ids=lambda c: c["source_path"])
def test_inclusion_probes(case: dict[str, Any]) -> None:
    ok = verify_inclusion(
        case["leafIdx"],
        case["treeSize"],
        b64(case["leafHash"]),
        [b64(p) for p in case["proof"] or []],
        b64(case["root"]),
    )
    assert ok is not case["wantErr"]


@pytest.mark.parametrize("case", PROBES["consistency"], ids=lambda c: c["source_path"])
def test_consistency_probes(case: dict[str, Any]) -> None:
    ok = verify_consistency(
        case["size1"],
        case["size2"],
        b64(case["root1"]),
        b64(case["root2"]),
        [b64(p) for p in case["proof"] or []],
    )
    assert ok is not case["wantErr"]


# --- the sumdb tree -------------------------------------------------------------------------


def test_sumdb_roots() -> None:
    roots = [base64.b64encode(SUMDB_TREE.root(n)).decode() for n in range(SUMDB["num_leaves"] + 1)]
    assert roots == SUMDB["roots_b64_by_size"]


@pytest.mark.parametrize(
    "case", SUMDB["inclusion"], ids=lambda c: f"{c['leaf_index']}-in-{c['tree_size']}"
)
def test_sumdb_inclusion(case: dict[str, Any]) -> None:
    proof = SUMDB_TREE.inclusion_proof(case["leaf_index"], case["tree_size"])
    assert [base64.b64encode(p).decode() for p in proof] == case["proof"]


@pytest.mark.parametrize(
    "case", SUMDB["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_sumdb_consistency(case: dict[str, Any]) -> None:
    proof = SUMDB_TREE.consistency_proof(case["size1"], case["size2"])
    assert [base64.b64encode(p).decode() for p in proof] == case["proof"]


# --- plans and errors -----------------------------------------------------------------------


def test_proofs_read_few_stored_nodes() -> None:
    """O(log n) complete subtrees per proof: what makes tile-backed proofs cheap."""
    size = 10**7 + 12345
    plans = inclusion_plan(size - 1, size) + consistency_plan(size // 3, size)

    assert len(nodes_of(plans)) <= 4 * size.bit_length()


def test_range_nodes_split_by_the_bits_of_the_length() -> None:
    assert range_nodes(8, 15) == (Node(2, 2), Node(1, 6), Node(0, 14))
    assert range_nodes(0, 0) == ()


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0)])
def test_inclusion_outside_the_tree_is_an_error(index: int, size: int) -> None:
    with pytest.raises(ProofError):
        inclusion_plan(index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 5), (6, 5), (-1, 3)])
def test_consistency_between_impossible_sizes_is_an_error(old: int, new: int) -> None:
    with pytest.raises(ProofError):
        consistency_plan(old, new)


def test_proofs_beyond_the_tree_are_errors() -> None:
    with pytest.raises(ProofError):
        RFC_TREE.inclusion_proof(0, 9)
    with pytest.raises(ProofError):
        RFC_TREE.consistency_proof(1, 9)


def test_malformed_hashes_never_verify() -> None:
    leaf = RFC_TREE.levels[0][0]
    proof = RFC_TREE.inclusion_proof(0, 8)

    assert root_from_inclusion_proof(0, 8, leaf[:31], proof) is None
    assert root_from_inclusion_proof(0, 8, leaf, [*proof[:2], proof[2][:31]]) is None
    assert not verify_consistency(4, 8, RFC_TREE.root(4), RFC_TREE.root(8), [b"x" * 31])
    assert not verify_consistency(4, 8, RFC_TREE.root(4), RFC_TREE.root(8), [])
    assert not verify_consistency(8, 8, RFC_TREE.root(8), RFC_TREE.root(8), [b"x" * 32])


# --- properties -----------------------------------------------------------------------------

MAX = 300
BIG_TREE = tree_of([i.to_bytes(4, "big") for i in range(MAX)])


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX))
    return draw(st.integers(1, new)), new


@given(case=index_and_size(), data=st.data())
def test_every_inclusion_proof_verifies_and_any_change_breaks_it(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    leaf, root = BIG_TREE.levels[0][index], BIG_TREE.root(size)
    proof = BIG_TREE.inclusion_proof(index, size)

    assert verify_inclusion(index, size, leaf, proof, root)
    other = data.draw(
        st.integers(0, size - 1).filter(lambda i: i != index) if size > 1 else st.none()
    )
    if other is not None:
        assert not verify_inclusion(other, size, leaf, proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = bytes([proof[at][0] ^ 1]) + proof[at][1:]
        assert not verify_inclusion(
            index, size, leaf, [*proof[:at], flipped, *proof[at + 1 :]], root
        )


@given(case=two_sizes(), data=st.data())
def test_every_consistency_proof_verifies_and_any_change_breaks_it(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    old_root, new_root = BIG_TREE.root(old), BIG_TREE.root(new)
    proof = BIG_TREE.consistency_proof(old, new)

    assert verify_consistency(old, new, old_root, new_root, proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = bytes([proof[at][0] ^ 1]) + proof[at][1:]
        assert not verify_consistency(
            old, new, old_root, new_root, [*proof[:at], flipped, *proof[at + 1 :]]
        )
    if old < new:
        assert not verify_consistency(old, new, BIG_TREE.root(old + 1), new_root, proof)


def test_a_negative_size_has_no_root() -> None:
    with pytest.raises(ProofError):
        root_plan(-1)


def test_plans_filled_from_a_batched_read_equal_the_tree_proofs() -> None:
    """The storage path: plan, fetch the distinct nodes once, fill every proof."""
    plans = inclusion_plan(123, 250) + consistency_plan(77, 250) + [root_plan(250)]
    fetched = {node: BIG_TREE.node(node) for node in nodes_of(plans)}

    assert fill_all(plans, fetched) == BIG_TREE.resolve(plans)
