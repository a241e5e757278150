"""Matrix signed JSON: checking the ed25519 signatures on key objects (pure, no I/O).

https://spec.matrix.org/v1.11/appendices/#signing-json — the signed bytes are the
canonical JSON of the object without `signatures` and `unsigned`. The server checks the
signatures the spec makes it responsible for (a device's self-signature, a key signed by
the device or by a cross-signing key) so that a malformed or forged upload is refused
instead of being handed to every client that queries it.
"""

import base64
import binascii

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from candor.core.canonical_json import JsonDict, encode_canonical

ED25519_KEY_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


def decode_unpadded_base64(value: str) -> bytes | None:
    """Unpadded (or padded) standard or URL-safe base64 → bytes; None if it is not base64."""
    if not value or len(value) > 4096:
        return None
    padded = value + "=" * (-len(value) % 4)
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded.encode("ascii"))
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def is_ed25519_key(value: object) -> bool:
    if not isinstance(value, str):
        return False
    raw = decode_unpadded_base64(value)
    return raw is not None and len(raw) == ED25519_KEY_BYTES


def signed_bytes(obj: JsonDict) -> bytes:
    return encode_canonical({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def get_signature(obj: JsonDict, signer_user: str, signer_key_id: str) -> str | None:
    signatures = obj.get("signatures")
    if not isinstance(signatures, dict):
        return None
    by_user = signatures.get(signer_user)
    if not isinstance(by_user, dict):
        return None
    sig = by_user.get(signer_key_id)
    return sig if isinstance(sig, str) else None


def verify_signature(obj: JsonDict, signature: str, public_key: str) -> bool:
    """Whether `signature` (unpadded base64) is `public_key`'s ed25519 signature of `obj`."""
    key = decode_unpadded_base64(public_key)
    sig = decode_unpadded_base64(signature)
    if key is None or sig is None or len(key) != ED25519_KEY_BYTES:
        return False
    if len(sig) != ED25519_SIGNATURE_BYTES:
        return False
    try:
        VerifyKey(key).verify(signed_bytes(obj), sig)
    except BadSignatureError:
        return False
    return True


def verify_signed_by(obj: JsonDict, signer_user: str, signer_key_id: str, public_key: str) -> bool:
    """Whether `obj` carries a valid signature by (`signer_user`, `ed25519:…` key id)."""
    sig = get_signature(obj, signer_user, signer_key_id)
    return sig is not None and verify_signature(obj, sig, public_key)
