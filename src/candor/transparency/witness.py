"""The witness: hold a log to every checkpoint it has shown (pure decisions, no I/O).

A witness remembers the log's key (pinned on first use) and the last checkpoint it
accepted. A new checkpoint is accepted only if it is signed by that key, is not smaller
(rollback), has the same root at the same size (else a fork), and is proven consistent
with the old one. The CLI (`candor audit verify`) fetches; this module decides.
"""

import base64
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.transparency.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from candor.transparency.merkle import verify_consistency
from candor.transparency.note import NoteError, Verifier


class WitnessError(Exception):
    """The log misbehaved, or showed something the witness cannot accept."""


@dataclass(frozen=True, slots=True)
class WitnessState:
    vkey: str
    size: int
    root_hash: bytes
    note: str

    def to_json(self) -> JsonDict:
        return {
            "vkey": self.vkey,
            "size": self.size,
            "root_hash": base64.b64encode(self.root_hash).decode(),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: object) -> "WitnessState":
        if not isinstance(data, dict):
            raise WitnessError("the state file is not a witness state")
        try:
            return cls(
                str(data["vkey"]),
                int(data["size"]),
                base64.b64decode(str(data["root_hash"]), validate=True),
                str(data["note"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WitnessError(f"the state file is damaged: {exc}") from None


def open_signed(note: str, vkey: str) -> Checkpoint:
    try:
        return open_checkpoint(note, Verifier.parse(vkey))
    except (NoteError, CheckpointError) as exc:
        raise WitnessError(f"the checkpoint's signature or format is bad: {exc}") from None


def check_key(old: WitnessState | None, published_vkey: str) -> str:
    """The key to verify with: the pinned one; a different published key is an alarm."""
    if old is None:
        return published_vkey.strip()
    if published_vkey.strip() != old.vkey:
        raise WitnessError("the log's published key changed since the last check")
    return old.vkey


def needs_proof(old: WitnessState | None, new: Checkpoint) -> bool:
    return old is not None and 0 < old.size < new.size


def accept(
    old: WitnessState | None,
    published_vkey: str,
    note: str,
    consistency: list[bytes] | None,
) -> WitnessState:
    """The new state after checking `note`; WitnessError says what the log did wrong."""
    vkey = check_key(old, published_vkey)
    new = open_signed(note, vkey)
    if old is not None:
        if new.size < old.size:
            raise WitnessError(f"rollback: the log shrank from {old.size} to {new.size} entries")
        if new.size == old.size and new.root_hash != old.root_hash:
            raise WitnessError(f"fork: two different trees of size {new.size}")
        if needs_proof(old, new) and not verify_consistency(
            old.size, new.size, old.root_hash, new.root_hash, consistency or []
        ):
            raise WitnessError(
                f"fork: the tree of size {new.size} does not extend the one of size {old.size}"
            )
    return WitnessState(vkey, new.size, new.root_hash, note)


# --- tlog-witness add-checkpoint (https://c2sp.org/tlog-witness) ---------------------------


class ProofRejected(WitnessError):
    """The consistency proof does not prove the step (tlog-witness answers 422)."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """An add-checkpoint request: the size the witness last saw, a proof, a new checkpoint."""

    old_size: int
    proof: list[bytes]
    note: str


def parse_add_checkpoint(body: str) -> AddCheckpoint:
    """`old N`, one base64 proof hash per line, an empty line, then the signed checkpoint.

    WitnessError for a malformed body (tlog-witness answers 400).
    """
    head, sep, note = body.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise WitnessError("an add-checkpoint body starts with 'old N' and a blank line")
    size_text = lines[0].removeprefix("old ")
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise WitnessError("the old size is not a decimal number")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            raw = base64.b64decode(line, validate=True)
        except ValueError:
            raise WitnessError("a proof line is not base64") from None
        if len(raw) != 32:
            raise WitnessError("a proof line is not a 32-byte hash")
        proof.append(raw)
    if len(proof) > 63:
        raise WitnessError("the proof has more hashes than any tree needs")
    return AddCheckpoint(int(size_text), proof, note)


def check_step(request: AddCheckpoint, old_root: bytes, new: Checkpoint) -> None:
    """Does the proof take the witness from (old size, old root) to `new`?

    The witness protocol's rules: from size 0 the proof must be empty; at the same size
    it must be empty and the roots equal; otherwise it must verify (RFC 9162 §2.1.4.2).
    """
    if request.old_size > new.size:
        raise WitnessError(f"the old size {request.old_size} is past the checkpoint's {new.size}")
    if request.old_size == 0:
        ok = not request.proof
    elif request.old_size == new.size:
        ok = not request.proof and old_root == new.root_hash
    else:
        ok = verify_consistency(request.old_size, new.size, old_root, new.root_hash, request.proof)
    if not ok:
        raise ProofRejected(
            f"the proof does not show that {new.size} entries extend {request.old_size}"
        )
