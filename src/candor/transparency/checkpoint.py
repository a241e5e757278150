"""C2SP tlog-checkpoint bodies: strict parsing and formatting, signing and verified opening.

Spec: https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md (c2sp.org/tlog-checkpoint),
carried in a signed note (`candor.transparency.note`). Pure functions, no I/O.

Invariant: a `Checkpoint` value is always one the spec allows (non-empty origin, size in
uint64, 32-byte root, non-empty extension lines, nothing that could break the line
structure), so `Checkpoint.parse(cp.body()) == cp`, and a parsed body has exactly one
spelling: `parse` accepts only the bytes `body()` would produce. `open_checkpoint` returns a
checkpoint only after the log's signature verified.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final, Self

from candor.transparency.note import Signer, Verifier, open_note, sign_note

ROOT_HASH_SIZE: Final = 32
MAX_TREE_SIZE: Final = 2**64 - 1
# "ASCII decimal ... with no leading zeroes (unless the tree is empty ...)". `[0-9]`, not
# `\d`, which would accept other scripts' digits; at most 20 digits (2**64 - 1 has 20), so
# int() never meets Python's 4300-digit conversion limit and raises a bare ValueError.
_TREE_SIZE: Final = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f]")


class CheckpointError(ValueError):
    """A checkpoint body is malformed, or is not the one the caller expected."""


class OriginMismatch(CheckpointError):
    """A verified checkpoint from another log (or a signer under another name)."""


def _check_line(line: str, what: str) -> None:
    """Origin and extension lines: non-empty (spec MUST) and free of control characters.

    A newline would split the line; other control characters are banned from any note
    text (signed-note §Format), so a body holding one could never be signed or opened.
    """
    if not line:
        raise CheckpointError(f"empty {what} line")
    if _CONTROL_CHARS.search(line):
        raise CheckpointError(f"control character in the {what} line")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError("tree size out of uint64 range")
        if len(self.root_hash) != ROOT_HASH_SIZE:
            raise CheckpointError("root hash must be 32 bytes (SHA-256)")
        for extension in self.extensions:
            _check_line(extension, "extension")

    def body(self) -> str:
        """The note text: one line each for origin, size, base64 root and each extension."""
        lines = (self.origin, str(self.size), base64.b64encode(self.root_hash).decode())
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parses a note text strictly: at least three lines, each ending in a newline.

        Strict where lenient parsers differ (transparency-dev/formats accepts empty
        extension lines and roots of any length): two spellings of one tree head would let
        a log show different bytes to different clients under one signature.
        """
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint ends in a newline")
        lines = text.removesuffix("\n").split("\n")
        if len(lines) < 3:
            raise CheckpointError("a checkpoint has origin, size and root hash lines")
        origin, size, root, *extensions = lines
        if not _TREE_SIZE.fullmatch(size):
            raise CheckpointError("tree size must be decimal without leading zeroes")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError):
            raise CheckpointError("root hash is not base64") from None
        if base64.b64encode(root_hash).decode() != root:
            raise CheckpointError("root hash is not canonical padded base64")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note, signed by the log's key.

    The spec only says the key name SHOULD match the origin; we require it for our own log,
    so every checkpoint we publish opens under `open_checkpoint`'s default origin rule.
    """
    if signer.name != checkpoint.origin:
        raise OriginMismatch("the log's key name must equal the checkpoint origin")
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str | bytes, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verifies a signed checkpoint with the log's key and parses its body.

    The body is read only after the log's signature verified (signed-note: unverified text
    MUST be ignored); other signatures (witness cosignatures, a rotated key) are ignored.
    The origin line must equal `origin`, which defaults to the key name (tlog-checkpoint:
    the key name SHOULD match the origin); pass it for logs whose origin differs from their
    key name, such as sum.golang.org ("go.sum database tree").
    """
    checkpoint = Checkpoint.parse(open_note(note, [verifier]).text)
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise OriginMismatch("checkpoint origin is not the expected log")
    return checkpoint
