"""Shape and signature checks of uploaded key objects (pure, no I/O).

Each check raises the spec's error before anything is written, so a bad upload changes
nothing: M_INVALID_PARAM for a malformed object or one that names another user or
device, M_INVALID_SIGNATURE for a signature that does not verify.
"""

from dataclasses import dataclass

from candor.core.canonical_json import JsonDict, encode_canonical
from candor.matrix.constants import CrossSigningKeyType, KeyAlgorithm
from candor.matrix.errors import Codes, InvalidParam, MatrixError
from candor.matrix.keys.signing import is_ed25519_key, verify_signed_by

MAX_KEYS_PER_UPLOAD = 1000
MAX_KEY_ID_LENGTH = 255
MAX_KEY_BYTES = 8192


class InvalidSignature(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(400, Codes.INVALID_SIGNATURE, message)


@dataclass(frozen=True, slots=True)
class UploadedKey:
    algorithm: str
    key_id: str
    raw: str  # canonical JSON of the key (a string for unsigned curve25519 keys)


def check_device_keys(keys: JsonDict, user_id: str, device_id: str) -> str:
    """Validate `device_keys`; returns the device's ed25519 key."""
    if keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        raise InvalidParam("device_keys must name the uploading user and device")
    algorithms = keys.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise InvalidParam("device_keys.algorithms must be a list of strings")
    key_map = keys.get("keys")
    if not isinstance(key_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in key_map.items()
    ):
        raise InvalidParam("device_keys.keys must map key ids to strings")
    ed25519 = key_map.get(f"{KeyAlgorithm.ED25519}:{device_id}")
    if not is_ed25519_key(ed25519):
        raise InvalidParam(f"device_keys.keys must hold a valid ed25519:{device_id} key")
    assert isinstance(ed25519, str)  # noqa: S101 - checked by is_ed25519_key
    if len(encode_canonical(keys)) > MAX_KEY_BYTES:
        raise InvalidParam("device_keys is too large")
    if not verify_signed_by(keys, user_id, f"{KeyAlgorithm.ED25519}:{device_id}", ed25519):
        raise InvalidSignature("device_keys is not signed by the device's ed25519 key")
    return ed25519


def check_uploaded_keys(
    section: str,
    keys: JsonDict,
    user_id: str,
    device_id: str,
    device_ed25519: str | None,
) -> list[UploadedKey]:
    """Validate `one_time_keys` or `fallback_keys` (`algorithm:key_id` → key)."""
    if len(keys) > MAX_KEYS_PER_UPLOAD:
        raise InvalidParam(f"Too many {section} in one upload")
    out: list[UploadedKey] = []
    for full_id, value in keys.items():
        algorithm, sep, key_id = full_id.partition(":")
        if not sep or not algorithm or not key_id or len(full_id) > MAX_KEY_ID_LENGTH:
            raise InvalidParam(f"{section}: key ids take the form algorithm:key_id")
        if isinstance(value, str):
            if algorithm == KeyAlgorithm.SIGNED_CURVE25519:
                raise InvalidParam(f"{section}: {full_id} must be a signed key object")
            out.append(UploadedKey(algorithm, key_id, encode_canonical(value).decode()))
            continue
        if not isinstance(value, dict) or not isinstance(value.get("key"), str):
            raise InvalidParam(f"{section}: {full_id} must be a string or an object with a key")
        raw = encode_canonical(value)
        if len(raw) > MAX_KEY_BYTES:
            raise InvalidParam(f"{section}: {full_id} is too large")
        signed = algorithm == KeyAlgorithm.SIGNED_CURVE25519 or "signatures" in value
        if signed:
            if device_ed25519 is None:
                raise InvalidParam("Upload device_keys before signed keys")
            if not verify_signed_by(
                value, user_id, f"{KeyAlgorithm.ED25519}:{device_id}", device_ed25519
            ):
                raise InvalidSignature(f"{section}: {full_id} is not signed by the device")
        out.append(UploadedKey(algorithm, key_id, raw.decode()))
    return out


def check_one_fallback_per_algorithm(keys: list[UploadedKey]) -> None:
    algorithms = [k.algorithm for k in keys]
    if len(set(algorithms)) != len(algorithms):
        raise InvalidParam("fallback_keys holds one key per algorithm")


def cross_signing_public_key(key: JsonDict, user_id: str, usage: CrossSigningKeyType) -> str:
    """Validate a cross-signing key object; returns its (unpadded base64) public key."""
    if key.get("user_id") != user_id:
        raise InvalidParam(f"The {usage} key must name the uploading user")
    usages = key.get("usage")
    if not isinstance(usages, list) or usage not in usages:
        raise InvalidParam(f"The {usage} key must list {usage!r} in its usage")
    key_map = key.get("keys")
    if not isinstance(key_map, dict) or len(key_map) != 1:
        raise InvalidParam(f"The {usage} key must hold exactly one key")
    ((key_id, public),) = key_map.items()
    if key_id != f"{KeyAlgorithm.ED25519}:{public}" or not is_ed25519_key(public):
        raise InvalidParam(f"The {usage} key must be an ed25519 key named by itself")
    if len(encode_canonical(key)) > MAX_KEY_BYTES:
        raise InvalidParam(f"The {usage} key is too large")
    assert isinstance(public, str)  # noqa: S101 - checked by is_ed25519_key
    return public


def check_signed_by_master(key: JsonDict, user_id: str, master_public: str, usage: str) -> None:
    if not verify_signed_by(key, user_id, f"{KeyAlgorithm.ED25519}:{master_public}", master_public):
        raise InvalidSignature(f"The {usage} key is not signed by the master key")
