"""Detached Ed25519 signatures over a report's canonical JSON.

The key is the server's transparency-log key (published at
`/_candor/transparency/v1/key`), so a partner pins one key for both. A signed report can
never be mistaken for a signed checkpoint: checkpoint notes are text ending in a newline,
and canonical JSON is one line starting with `{`.

Verification re-canonicalises the parsed document, so a report that was pretty-printed or
re-serialised still verifies, and any change to a value does not.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping

from candor.core.canonical_json import JsonDict, encode_canonical
from candor.transparency.note import NoteError, Signer, Verifier

SIGNATURE_FORMAT = "candor.report-signature/v1"


class SignatureInvalid(ValueError):
    """The report does not match its signature, or the signature is not by the pinned key."""


def canonical(report: Mapping[str, object]) -> bytes:
    return encode_canonical(report)


def sign(report: Mapping[str, object], signer: Signer) -> dict[str, str]:
    body = canonical(report)
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": "Ed25519",
        "key": str(signer.verifier()),
        "report_id": str(report.get("report_id", "")),
        "sha256": hashlib.sha256(body).hexdigest(),
        "signature": base64.b64encode(signer.sign(body)).decode(),
    }


def _no_duplicates(pairs: list[tuple[str, object]]) -> JsonDict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise SignatureInvalid("a JSON object repeats a key, so readers could disagree on it")
    return dict(pairs)


def parse_json(raw: bytes, what: str) -> JsonDict:
    """Parse a report or signature file; duplicate keys are refused, not silently merged."""
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, SignatureInvalid):
            raise SignatureInvalid(f"{what}: {exc}") from None
        raise SignatureInvalid(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SignatureInvalid(f"{what} is not a JSON object")
    return value


def verify(
    report: Mapping[str, object], signature: Mapping[str, object], trusted: Verifier | None
) -> Verifier:
    """Check `signature` over `report`; return the key that signed it.

    With `trusted` None the key named in the signature document is used: that proves the
    report is intact, not who made it, and the caller must say so.
    """
    if signature.get("format") != SIGNATURE_FORMAT or signature.get("algorithm") != "Ed25519":
        raise SignatureInvalid("not a Candor report signature (format or algorithm)")
    try:
        named = Verifier.parse(str(signature.get("key", "")))
    except NoteError as exc:
        raise SignatureInvalid(f"the signature's key is malformed: {exc}") from None
    if trusted is not None and (
        named.public_key != trusted.public_key or named.name != trusted.name
    ):
        raise SignatureInvalid(f"signed by {named}, not by the pinned key {trusted}")
    try:
        sig = base64.b64decode(str(signature.get("signature", "")), validate=True)
    except binascii.Error:
        raise SignatureInvalid("the signature is not base64") from None
    body = canonical(report)
    if not named.verify(body, sig):
        raise SignatureInvalid("the signature does not match this report (changed or forged)")
    if signature.get("report_id") != report.get("report_id"):
        raise SignatureInvalid("the signature file names another report")
    if signature.get("sha256") != hashlib.sha256(body).hexdigest():
        raise SignatureInvalid("the sha256 in the signature does not match this report")
    return trusted or named
