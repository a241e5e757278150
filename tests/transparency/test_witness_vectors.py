"""tlog-witness add-checkpoint bodies from the vectors in tests/data/transparency: 200 = the step is proven (cosign), 422 = the proof is rejected."""

import base64
import json
from typing import Any

import pytest

from candor.transparency.merkle import MemoryTree
from candor.transparency.witness import (
    AddCheckpoint,
    ProofRejected,
    WitnessError,
    check_step,
    open_signed,
    parse_add_checkpoint,
)
from tests.helpers.testdata import data_path

VECTORS: list[dict[str, Any]] = json.loads(
    data_path("transparency", "checkpoint_vectors.json").read_text()
)["witness_add_checkpoint"]


def test_there_are_vectors_of_both_outcomes() -> None:
    assert {v["expect_status"] for v in VECTORS} == {200, 422}


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["desc"])
def test_add_checkpoint_vectors(case: dict[str, Any]) -> None:
    request = parse_add_checkpoint(case["request_body"])
    (vkey,) = case["log_vkeys"]
    new = open_signed(request.note, vkey)
    old_root = base64.b64decode(case["old_root_b64"])

    assert request.old_size == case["old_size"]
    assert request.proof == [base64.b64decode(h) for h in case["proof"]]
    assert request.note == case["checkpoint"]
    if case["expect_status"] == 200:
        check_step(request, old_root, new)
    else:
        with pytest.raises(ProofRejected):
            check_step(request, old_root, new)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "old 3\n",  # no blank line, no checkpoint
        "new 3\n\ncheckpoint\n",
        "old -1\n\ncheckpoint\n",
        "old 03\n\ncheckpoint\n",
        "old 3\nnot base64!\n\ncheckpoint\n",
        "old 3\n" + base64.b64encode(b"short").decode() + "\n\ncheckpoint\n",
        "old 3\n" + (base64.b64encode(bytes(32)).decode() + "\n") * 64 + "\ncheckpoint\n",
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(WitnessError) as caught:
        parse_add_checkpoint(body)
    assert not isinstance(caught.value, ProofRejected)


def test_an_old_size_past_the_checkpoint_is_refused_but_not_as_a_bad_proof() -> None:
    tree = MemoryTree()
    for i in range(4):
        tree.append(bytes([i]))
    new = open_signed(VECTORS[0]["checkpoint"], VECTORS[0]["log_vkeys"][0])

    with pytest.raises(WitnessError) as caught:
        check_step(AddCheckpoint(new.size + 1, [], ""), tree.root(), new)
    assert not isinstance(caught.value, ProofRejected)
