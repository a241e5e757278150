"""The witness's decisions: pin the key, accept growth proven consistent, refuse rollbacks,
forks and checkpoints signed by any other key."""

import pytest

from candor.transparency.checkpoint import Checkpoint, sign_checkpoint
from candor.transparency.merkle import MemoryTree
from candor.transparency.note import Signer, generate_key
from candor.transparency.witness import WitnessError, WitnessState, accept

ORIGIN = "test.local/candor-log"
SKEY, VKEY = generate_key(ORIGIN)
SIGNER = Signer.parse(SKEY)


def grown(n: int, prefix: bytes = b"") -> MemoryTree:
    tree = MemoryTree()
    for i in range(n):
        tree.append(prefix + i.to_bytes(4, "big"))
    return tree


def note(tree: MemoryTree, size: int, signer: Signer = SIGNER) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), signer)


def test_growth_proven_consistent_is_accepted_and_the_key_pinned() -> None:
    tree = grown(50)
    first = accept(None, VKEY, note(tree, 20), None)
    second = accept(first, VKEY, note(tree, 50), tree.consistency_proof(20, 50))

    assert (first.size, second.size) == (20, 50)
    assert second.vkey == VKEY
    assert WitnessState.from_json(second.to_json()) == second


def test_a_smaller_tree_later_is_a_rollback() -> None:
    tree = grown(50)
    seen = accept(None, VKEY, note(tree, 50), None)

    with pytest.raises(WitnessError, match="rollback"):
        accept(seen, VKEY, note(tree, 40), None)


def test_two_trees_of_one_size_are_a_fork() -> None:
    seen = accept(None, VKEY, note(grown(30), 30), None)

    with pytest.raises(WitnessError, match="fork"):
        accept(seen, VKEY, note(grown(30, b"other"), 30), None)


def test_a_tree_that_does_not_extend_the_old_one_is_a_fork() -> None:
    seen = accept(None, VKEY, note(grown(30), 30), None)
    other = grown(60, b"other")

    with pytest.raises(WitnessError, match="fork"):
        accept(seen, VKEY, note(other, 60), other.consistency_proof(30, 60))


def test_a_checkpoint_signed_with_another_key_is_refused() -> None:
    tree = grown(10)
    seen = accept(None, VKEY, note(tree, 5), None)
    impostor = Signer.parse(generate_key(ORIGIN)[0])

    with pytest.raises(WitnessError, match="signature"):
        accept(seen, VKEY, note(tree, 10, impostor), tree.consistency_proof(5, 10))
    with pytest.raises(WitnessError, match="key changed"):
        accept(seen, str(impostor.verifier()), note(tree, 10, impostor), None)


def test_a_damaged_state_file_is_reported() -> None:
    with pytest.raises(WitnessError, match="damaged"):
        WitnessState.from_json({"vkey": VKEY})
    with pytest.raises(WitnessError, match="not a witness state"):
        WitnessState.from_json([1, 2])
