"""C2SP signed notes with Ed25519 keys: key strings, signing, and opening against trusted keys.

Spec: https://github.com/C2SP/C2SP/blob/main/signed-note.md (c2sp.org/signed-note@v1.0.0),
signature type 0x01 (Ed25519, RFC 8032). Pure functions, no I/O apart from the OS randomness
`generate_key` draws.

Invariants: a `Verifier` or `Signer` value is always well formed (its name is a valid key name,
its key ID is derived, never trusted from input), and `open_note` returns a `Note` only if a
configured key verified the text and no configured key's signature failed. Every rejection is
a `NoteError` subclass, so callers (the witness, the log's own audit) can map the reason to a
status without parsing messages. Key material never appears in an error message or a repr.
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Self

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ALG_ED25519: Final = 0x01
ED25519_KEY_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
KEY_ID_SIZE: Final = 4
# C2SP: verifiers SHOULD bound the number of signatures and MUST accept at least 16; 100 is
# golang.org/x/mod/sumdb/note's limit, which the shared vectors follow.
MAX_SIGNATURES: Final = 100

_EM_DASH_SPACE: Final = "\u2014 "
_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"
# "MUST NOT contain any ASCII control characters ... other than newline."
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID: Final = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A key string or note was rejected; the subclass says why."""


class InvalidKey(NoteError):
    """A verifier or signer key string is malformed, of another algorithm, or mislabelled."""


class MalformedNote(NoteError):
    """The bytes are not a signed note (or the text cannot be signed as one)."""


class TooManySignatures(MalformedNote):
    """More than MAX_SIGNATURES signature lines: refused before any verification work."""


class AmbiguousKey(NoteError):
    """Two configured verifiers share the (name, key ID) a signature names."""


class InvalidSignature(NoteError):
    """A signature from a configured key failed: the whole note is rejected (C2SP SHOULD)."""


class UnverifiedNote(NoteError):
    """No signature from a configured key: the text must be ignored (C2SP MUST)."""


def valid_key_name(name: str) -> bool:
    """A key name is non-empty, with no plus and no Unicode space (signed-note §Format).

    Control characters are refused as well: a note may not contain them, so a name holding
    one could never appear on a signature line.
    """
    return bool(name) and all(ch != "+" and ch >= " " and not ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes) -> int:
    """The Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian.

    This is the spec's RECOMMENDED derivation; binding the name means a renamed key string
    gets a different ID, so it can never be mistaken for the original key.
    """
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:KEY_ID_SIZE], "big")


def _b64decode(text: str) -> bytes | None:
    """Standard padded base64 (RFC 4648 §4), canonical only: one string per byte sequence.

    Python's decoder ignores the unused low bits of the last symbol; re-encoding closes that
    malleability, so a flipped character can never decode to the same bytes.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _split_key(text: str) -> tuple[str, int, bytes]:
    """Splits `name+hexkeyid+base64(alg || key)` into its three parts, checking only syntax."""
    name, _, rest = text.partition("+")
    hex_id, sep, encoded = rest.partition("+")
    raw = _b64decode(encoded)
    if not sep or not valid_key_name(name) or not _HEX_KEY_ID.fullmatch(hex_id) or raw is None:
        raise InvalidKey("malformed key string")
    if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
        raise InvalidKey("not an Ed25519 (type 0x01) signed-note key")
    return name, int(hex_id, 16), raw[1:]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted Ed25519 public key under a name; `str()` gives its vkey string."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise InvalidKey("invalid key name")
        if len(self.public_key) != ED25519_KEY_SIZE:
            raise InvalidKey("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))

    @classmethod
    def parse(cls, vkey: str) -> Self:
        """Parses `name+hexkeyid+base64(0x01 || key)`; the key ID must match the derived one.

        Rejecting a mismatched ID (rather than recomputing it silently) catches a key string
        whose name or key was edited, which is how a mislabelled key would get configured.
        """
        name, claimed_id, public_key = _split_key(vkey)
        verifier = cls(name, public_key)
        if verifier.key_id != claimed_id:
            raise InvalidKey("key ID does not match the name and key")
        return verifier

    def __str__(self) -> str:
        encoded = _b64encode(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff `signature` is this key's Ed25519 signature of `message` (RFC 8032)."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            VerifyKey(self.public_key).verify(message, signature)
        except BadSignatureError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 private key (its 32-byte RFC 8032 seed) under a name.

    The seed is left out of the repr so a logged Signer leaks nothing; `skey()` is the only
    way to get the secret string back out.
    """

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not valid_key_name(self.name):
            raise InvalidKey("invalid key name")
        if len(self.seed) != ED25519_KEY_SIZE:
            raise InvalidKey("an Ed25519 seed is 32 bytes")
        public_key = bytes(SigningKey(self.seed).verify_key)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_id", key_id(self.name, public_key))

    @classmethod
    def parse(cls, skey: str) -> Self:
        """Parses `PRIVATE+KEY+name+hexkeyid+base64(0x01 || seed)`, checking the key ID.

        The ID is derived from the public key the seed yields, so a seed pasted under the
        wrong name or ID is refused instead of producing notes nobody can verify.
        """
        if not skey.startswith(_PRIVATE_PREFIX):
            raise InvalidKey("a signer key starts with PRIVATE+KEY+")
        name, claimed_id, seed = _split_key(skey.removeprefix(_PRIVATE_PREFIX))
        signer = cls(name, seed)
        if signer.key_id != claimed_id:
            raise InvalidKey("key ID does not match the name and key")
        return signer

    def skey(self) -> str:
        """The secret key string; store it like a password."""
        encoded = _b64encode(bytes([ALG_ED25519]) + self.seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id:08x}+{encoded}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return SigningKey(self.seed).sign(message).signature


def generate_key(name: str) -> tuple[str, str]:
    """A fresh key pair for `name` as (skey, vkey) strings, seeded from the OS CSPRNG."""
    signer = Signer(name, bytes(SigningKey.generate()))
    return signer.skey(), str(signer.verifier())


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key it names and the signature bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text (ending in a newline) and the signatures it carried.

    `verified` lists the configured keys that signed it, `unverified` the keys we do not
    know; each key appears once, in order of first appearance.
    """

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def _check_text(text: str) -> bytes:
    """The UTF-8 bytes of a valid note text, or MalformedNote."""
    if not text.endswith("\n"):
        raise MalformedNote("note text must end in a newline")
    if _CONTROL_CHARS.search(text):
        raise MalformedNote("note text contains a control character")
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise MalformedNote("note text is not valid UTF-8") from None


def sign_note(text: str, signer: Signer) -> str:
    """Signs `text` as a one-signature note: text, blank line, `— name base64(id || sig)`.

    The text may contain blank lines: openers split at the last one, and a signature line
    never contains one, so the signed text always round-trips. Ed25519 is deterministic,
    so the same text and key give byte-identical notes.
    """
    message = _check_text(text)
    raw = signer.key_id.to_bytes(KEY_ID_SIZE, "big") + signer.sign(message)
    return f"{text}\n{_EM_DASH_SPACE}{signer.name} {_b64encode(raw)}\n"


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_EM_DASH_SPACE):
        raise MalformedNote("expected a signature line")
    name, sep, encoded = line.removeprefix(_EM_DASH_SPACE).partition(" ")
    raw = _b64decode(encoded)
    if not sep or not valid_key_name(name) or raw is None or len(raw) <= KEY_ID_SIZE:
        raise MalformedNote("malformed signature line")
    return Signature(name, int.from_bytes(raw[:KEY_ID_SIZE], "big"), raw[KEY_ID_SIZE:])


def _parse(note: str | bytes) -> tuple[str, list[Signature]]:
    """Splits a note into its text and signature lines, checking syntax only."""
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError:
            raise MalformedNote("note is not valid UTF-8") from None
    _check_text(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise MalformedNote("a signed note has at least one signature")
    lines = block.removesuffix("\n").split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise TooManySignatures(f"more than {MAX_SIGNATURES} signatures")
    return text, [_parse_signature_line(line) for line in lines]


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parses a signed note and verifies it against the configured `verifiers`.

    Policy (C2SP signed-note §Signatures, as the shared vectors fix it): a signature is from a
    known key only if both name and key ID match; unknown ones are ignored (MUST) and
    reported in `unverified`; a failing known signature rejects the whole note (SHOULD: a
    forged co-signature must not hide behind a good one); no verified known signature
    rejects it (MUST). Two verifiers with the same name and ID make that key ambiguous,
    which is an error only if a signature uses it. Malformed input is always rejected,
    before any signature is checked.
    """
    text, signatures = _parse(note)
    message = text.encode()
    known: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_id), []).append(verifier)
    verified: dict[tuple[str, int], Signature] = {}
    unverified: dict[tuple[str, int], Signature] = {}
    for sig in signatures:
        ref = (sig.name, sig.key_id)
        candidates = known.get(ref, [])
        if not candidates:
            unverified.setdefault(ref, sig)
            continue
        if len(candidates) > 1:
            raise AmbiguousKey(f"several verifiers for {sig.name}+{sig.key_id:08x}")
        if not candidates[0].verify(message, sig.signature):
            raise InvalidSignature(f"invalid signature from {sig.name}+{sig.key_id:08x}")
        verified.setdefault(ref, sig)
    if not verified:
        raise UnverifiedNote("no signature from a known key")
    return Note(text, tuple(verified.values()), tuple(unverified.values()))
