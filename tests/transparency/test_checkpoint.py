"""C2SP tlog-checkpoints against the published vectors, plus edge cases and properties.

The vectors are read from tests/data/transparency (see tests/data/README.md): 22 bodies to parse
(strict C2SP rules, including two that transparency-dev/formats accepts leniently) and 15
signed checkpoints (the 8-leaf test tree under a published test key, tampered variants and the
real sum.golang.org tree head). The `witness_add_checkpoint` section is in test_witness_vectors.py.
"""

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.transparency.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    OriginMismatch,
    open_checkpoint,
    sign_checkpoint,
)
from candor.transparency.note import NoteError, Signer, Verifier, open_note, sign_note
from tests.helpers.testdata import data_path

VECTORS = data_path("transparency")
CHECKPOINTS: Any = json.loads((VECTORS / "checkpoint_vectors.json").read_text())

LOG = Signer.parse(CHECKPOINTS["_meta"]["test_log_key"]["skey"])
ORIGIN = CHECKPOINTS["_meta"]["test_log_key"]["origin"]
ROOT = base64.b64decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"


def cases(section: str) -> list[Any]:
    return [pytest.param(entry, id=entry["desc"]) for entry in CHECKPOINTS[section]]


def signed(desc: str) -> Any:
    return next(entry for entry in CHECKPOINTS["signed"] if entry["desc"] == desc)


# --- published vectors -------------------------------------------------------------------------


def test_test_log_key_matches_its_vkey() -> None:
    assert str(LOG.verifier()) == CHECKPOINTS["_meta"]["test_log_key"]["vkey"]
    assert LOG.name == ORIGIN


@pytest.mark.parametrize("entry", cases("parse"))
def test_parse_vector(entry: Any) -> None:
    if not entry["c2sp_valid"]:
        with pytest.raises(CheckpointError):
            Checkpoint.parse(entry["text"])
        return
    checkpoint = Checkpoint.parse(entry["text"])
    assert checkpoint == Checkpoint(
        entry["origin"],
        entry["size"],
        base64.b64decode(entry["root_b64"]),
        tuple(entry["extensions"]),
    )
    assert checkpoint.body() == entry["text"]


@pytest.mark.parametrize("entry", cases("signed"))
def test_signed_vector(entry: Any) -> None:
    verifiers = [Verifier.parse(vkey) for vkey in entry["verifier_vkeys"]]
    if not entry["valid"]:
        for verifier in verifiers:
            with pytest.raises((NoteError, CheckpointError)):
                open_checkpoint(entry["note"], verifier, entry["origin"])
        with pytest.raises(NoteError):
            open_note(entry["note"], verifiers)
        return
    (verifier,) = verifiers
    checkpoint = open_checkpoint(entry["note"], verifier, entry["origin"])
    assert (checkpoint.origin, checkpoint.size) == (entry["origin"], entry["size"])
    assert checkpoint.root_hash == base64.b64decode(entry["root_b64"])
    assert checkpoint.extensions == ()
    if "skey" in entry:
        body = Checkpoint.parse(entry["body"])
        assert body == checkpoint
        assert body.body() == entry["body"]
        assert sign_checkpoint(body, Signer.parse(entry["skey"])) == entry["note"]


# --- parsing and formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n", id="spare bits set"
        ),
        pytest.param(f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n", id="unpadded"),
        pytest.param(
            f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n", id="URL alphabet"
        ),
        pytest.param(
            f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqt\u00e9lgz+Nw7/RgQyg=\n", id="non-ASCII root"
        ),
        pytest.param(
            f"{ORIGIN}\n8\n XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", id="space in root"
        ),
        pytest.param(
            f"{ORIGIN}\n 8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", id="space in size"
        ),
        pytest.param(
            f"{ORIGIN}\n8\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", id="empty root line"
        ),
        pytest.param(
            f"{ORIGIN}\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", id="empty size"
        ),
        pytest.param(
            f"{ORIGIN}\t\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", id="tab in origin"
        ),
        pytest.param(f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nx\r\n", id="CR"),
        pytest.param(f"{ORIGIN}\n1{'0' * 20}\n{base64.b64encode(ROOT).decode()}\n", id="21 digits"),
        pytest.param(
            f"{ORIGIN}\n1{'0' * 5000}\n{base64.b64encode(ROOT).decode()}\n", id="5001 digits"
        ),
        pytest.param("", id="empty"),
        pytest.param("\n", id="newline"),
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        pytest.param("", 8, ROOT, (), id="empty origin"),
        pytest.param("two\nlines", 8, ROOT, (), id="newline in origin"),
        pytest.param(ORIGIN, -1, ROOT, (), id="negative size"),
        pytest.param(ORIGIN, MAX_TREE_SIZE + 1, ROOT, (), id="size over uint64"),
        pytest.param(ORIGIN, 8, ROOT[:31], (), id="31-byte root"),
        pytest.param(ORIGIN, 8, ROOT + b"\x00", (), id="33-byte root"),
        pytest.param(ORIGIN, 8, ROOT, ("",), id="empty extension"),
        pytest.param(ORIGIN, 8, ROOT, ("a\nb",), id="newline in extension"),
        pytest.param(ORIGIN, 8, ROOT, ("a\x00",), id="NUL in extension"),
    ],
)
def test_invalid_checkpoints_cannot_be_built(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(origin, size, root, extensions)


def test_body_format() -> None:
    checkpoint = Checkpoint(ORIGIN, 8, ROOT, ("one", "two"))
    assert checkpoint.body() == (
        f"{ORIGIN}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\none\ntwo\n"
    )


# --- signing and opening ----------------------------------------------------------------------


def test_origin_defaults_to_the_key_name() -> None:
    note = signed("test log checkpoint size 8")["note"]
    assert open_checkpoint(note, LOG.verifier()) == Checkpoint(ORIGIN, 8, ROOT)


def test_origin_other_than_the_key_name_must_be_asked_for() -> None:
    note = signed(
        "real sum.golang.org tree head is a valid C2SP checkpoint (origin 'go.sum database tree')"
    )["note"]
    with pytest.raises(OriginMismatch):
        open_checkpoint(note, Verifier.parse(SUMDB_VKEY))
    assert open_checkpoint(note, Verifier.parse(SUMDB_VKEY), "go.sum database tree").size == 6476701


def test_checkpoint_from_another_origin_is_rejected() -> None:
    note = signed("test log checkpoint size 8")["note"]
    with pytest.raises(OriginMismatch):
        open_checkpoint(note, LOG.verifier(), "candor.example/other-log")


def test_signer_must_be_named_for_the_origin() -> None:
    other = Signer("candor.example/other-log", bytes(range(32)))
    with pytest.raises(OriginMismatch):
        sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), other)


def test_signed_text_that_is_not_a_checkpoint_is_rejected() -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note(f"{ORIGIN}\n8\n", LOG), LOG.verifier())


def test_extensions_are_signed_and_returned() -> None:
    checkpoint = Checkpoint(ORIGIN, 8, ROOT, ("extension one",))
    note = sign_checkpoint(checkpoint, LOG)
    assert open_checkpoint(note.encode(), LOG.verifier()) == checkpoint


def test_witness_cosignatures_are_ignored() -> None:
    witness = Signer("candor.example/witness", bytes(range(32)))
    body = Checkpoint(ORIGIN, 8, ROOT).body()
    cosignature = sign_note(body, witness).removeprefix(body + "\n")
    note = sign_checkpoint(Checkpoint(ORIGIN, 8, ROOT), LOG) + cosignature
    assert open_checkpoint(note, LOG.verifier()) == Checkpoint(ORIGIN, 8, ROOT)


# --- properties -------------------------------------------------------------------------------

line = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=30
)
checkpoints = st.builds(
    Checkpoint,
    origin=line,
    size=st.integers(0, MAX_TREE_SIZE),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(line, max_size=3).map(tuple),
)


@given(checkpoints)
def test_parse_inverts_body(checkpoint: Checkpoint) -> None:
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


@given(st.integers(0, MAX_TREE_SIZE), st.binary(min_size=32, max_size=32))
def test_sign_then_open_round_trips(size: int, root: bytes) -> None:
    checkpoint = Checkpoint(ORIGIN, size, root)
    assert open_checkpoint(sign_checkpoint(checkpoint, LOG), LOG.verifier()) == checkpoint
