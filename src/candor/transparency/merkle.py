"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification (pure, no I/O).

https://www.rfc-editor.org/rfc/rfc9162#section-2.1 — leaf hash `SHA-256(0x00 || leaf)`,
interior node `SHA-256(0x01 || left || right)`, the empty tree's root `SHA-256("")`.

Proofs are *planned* here and *filled* by storage: every hash a proof or a root needs is
the hash of a complete subtree (`Node(level, index)`: the 2**level leaves from
index * 2**level), or a fold of a few of them along the tree's right edge. A store that
keeps complete subtrees (as tiles) answers any plan with O(log n) reads and never
rebuilds the tree; `MemoryTree` keeps them in lists for tests and audits. Verification
follows the RFC's algorithms, so it shares no code with proof generation.
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, slots=True, order=True)
class Node:
    """The complete subtree of 2**level leaves starting at leaf index * 2**level."""

    level: int
    index: int


# A hash in a proof: the fold (from the right) of these complete subtrees, left to right.
Composite = tuple[Node, ...]


class ProofError(ValueError):
    """A proof was asked for sizes or indices the tree does not have."""


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n > 1), the split point of RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> Composite:
    """The complete subtrees whose right fold is MTH(D[start:end]).

    Valid for the ranges the RFC's recursions produce, where `start` is a multiple of
    the largest power of two not above `end - start`: the range splits by the bits of its
    length, largest first.
    """
    nodes: list[Node] = []
    length = end - start
    while length > 0:
        level = length.bit_length() - 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
        length -= 1 << level
    return tuple(nodes)


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of adjacent complete subtrees given left to right (RFC recursion, unrolled)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_plan(size: int) -> Composite:
    if size < 0:
        raise ProofError("negative tree size")
    return range_nodes(0, size)


def inclusion_plan(index: int, size: int) -> list[Composite]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    out: list[Composite] = []
    start, end = 0, size
    # Walk down from the root; the RFC appends the sibling after the sub-path, so the
    # siblings collected top-down are reversed at the end.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        mid = start + k
        if index < mid:
            out.append(range_nodes(mid, end))
            end = mid
        else:
            out.append(range_nodes(start, mid))
            start = mid
    out.reverse()
    return out


def consistency_plan(old_size: int, new_size: int) -> list[Composite]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1, leaf-side first.

    Sizes must satisfy 0 < old_size <= new_size; equal sizes give an empty proof.
    """
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    out: list[Composite] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            out.append(range_nodes(start + k, end))
            end = start + k
        else:
            out.append(range_nodes(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        out.append(range_nodes(start, end))
    out.reverse()
    return out


def nodes_of(plans: Iterable[Composite]) -> list[Node]:
    """The distinct complete subtrees a set of plans reads, for one batched fetch."""
    return sorted({node for plan in plans for node in plan})


def fill(plan: Composite, hashes: Mapping[Node, bytes]) -> bytes:
    return fold([hashes[node] for node in plan])


def fill_all(plans: Sequence[Composite], hashes: Mapping[Node, bytes]) -> list[bytes]:
    return [fill(plan, hashes) for plan in plans]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof implies, or None if the proof cannot be valid."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2; equal sizes need an empty proof and equal roots."""
    if not 0 < old_size <= new_size:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- an in-memory tree of complete subtrees ---------------------------------------------


class MemoryTree:
    """Complete-subtree hashes level by level: appends are O(log n) amortised.

    Used by tests and by the operator's audit, which recomputes the tree from the stored
    leaves and compares it with the stored nodes.
    """

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append_hash(self, h: bytes) -> int:
        index = self.size
        self.levels[0].append(h)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            pair = self.levels[level][-2:]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(pair[0], pair[1]))
            level += 1
        return index

    def append(self, leaf: bytes) -> int:
        return self.append_hash(leaf_hash(leaf))

    def node(self, node: Node) -> bytes:
        return self.levels[node.level][node.index]

    def resolve(self, plans: Sequence[Composite]) -> list[bytes]:
        return [fold([self.node(n) for n in plan]) for plan in plans]

    def root(self, size: int | None = None) -> bytes:
        return self.resolve([root_plan(self.size if size is None else size)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        return self.resolve(inclusion_plan(index, size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        return self.resolve(consistency_plan(old_size, new_size))

    def _check_size(self, size: int) -> None:
        if size > self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {size}")


NodeReader = Callable[[Sequence[Node]], Mapping[Node, bytes]]
