"""Signed JSON and key-object validation: the pure checks every upload goes through."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import CrossSigningKeyType
from candor.matrix.errors import MatrixError
from candor.matrix.keys.signing import decode_unpadded_base64, verify_signature, verify_signed_by
from candor.matrix.keys.validation import (
    check_device_keys,
    check_one_fallback_per_algorithm,
    check_signed_by_master,
    check_uploaded_keys,
    cross_signing_public_key,
)

USER = "@alice:localhost"
DEVICE = "DEV1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def sign(obj: JsonDict, key: SigningKey, user: str, key_id: str) -> JsonDict:
    """Signs as a client does, with json.dumps: independent of the server's encoder."""
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    out = dict(obj)
    sigs = dict(out.get("signatures", {}))  # type: ignore[call-overload]
    sigs[user] = {**sigs.get(user, {}), key_id: b64(key.sign(raw).signature)}
    out["signatures"] = sigs
    return out


def device_keys(key: SigningKey, user: str = USER, device: str = DEVICE) -> JsonDict:
    obj: JsonDict = {
        "user_id": user,
        "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {
            f"ed25519:{device}": b64(bytes(key.verify_key)),
            f"curve25519:{device}": b64(b"c" * 32),
        },
    }
    return sign(obj, key, user, f"ed25519:{device}")


_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=10,
)


@given(content=st.dictionaries(_text, _json, max_size=5))
def test_any_object_signed_by_a_client_verifies(content: JsonDict) -> None:
    key = SigningKey(b"k" * 32)
    signed = sign(content, key, USER, "ed25519:X")

    assert verify_signed_by(signed, USER, "ed25519:X", b64(bytes(key.verify_key)))


@given(content=st.dictionaries(_text, _json, min_size=1, max_size=5), extra=_text)
def test_a_changed_object_no_longer_verifies(content: JsonDict, extra: str) -> None:
    key = SigningKey(b"k" * 32)
    signed = sign(content, key, USER, "ed25519:X")
    tampered = {**signed, "tampered" + extra: True}

    assert not verify_signed_by(tampered, USER, "ed25519:X", b64(bytes(key.verify_key)))


def test_signatures_and_unsigned_are_not_signed() -> None:
    key = SigningKey.generate()
    signed = sign({"a": 1}, key, USER, "ed25519:X")
    signed["unsigned"] = {"device_display_name": "phone"}

    assert verify_signed_by(signed, USER, "ed25519:X", b64(bytes(key.verify_key)))


@pytest.mark.parametrize(
    ("signature", "public"),
    [
        ("", "A" * 43),
        ("not base64!", "A" * 43),
        (b64(b"s" * 64), "short"),
        (b64(b"s" * 63), "A" * 43),
    ],
)
def test_malformed_signatures_and_keys_do_not_verify(signature: str, public: str) -> None:
    assert not verify_signature({"a": 1}, signature, public)


def test_unpadded_padded_and_urlsafe_base64_decode() -> None:
    assert decode_unpadded_base64("YWI") == b"ab"
    assert decode_unpadded_base64("YWI=") == b"ab"
    assert decode_unpadded_base64("-_8") == b"\xfb\xff"
    assert decode_unpadded_base64("") is None
    assert decode_unpadded_base64("@@@") is None


def test_valid_device_keys_give_the_ed25519_key() -> None:
    key = SigningKey.generate()

    assert check_device_keys(device_keys(key), USER, DEVICE) == b64(bytes(key.verify_key))


@pytest.mark.parametrize(
    ("user", "device"), [("@bob:localhost", DEVICE), (USER, "OTHER")], ids=["user", "device"]
)
def test_device_keys_for_someone_else_are_invalid_param(user: str, device: str) -> None:
    keys = device_keys(SigningKey.generate(), user, device)

    with pytest.raises(MatrixError) as info:
        check_device_keys(keys, USER, DEVICE)
    assert info.value.errcode == "M_INVALID_PARAM"


def test_device_keys_signed_by_another_key_are_invalid_signature() -> None:
    keys = device_keys(SigningKey.generate())
    forged = sign(
        {k: v for k, v in keys.items() if k != "signatures"},
        SigningKey.generate(),
        USER,
        f"ed25519:{DEVICE}",
    )

    with pytest.raises(MatrixError) as info:
        check_device_keys(forged, USER, DEVICE)
    assert info.value.errcode == "M_INVALID_SIGNATURE"


@pytest.mark.parametrize(
    "change",
    [
        {"algorithms": "m.megolm.v1.aes-sha2"},
        {"keys": {"curve25519:DEV1": "x"}},
        {"keys": {"ed25519:DEV1": "tooshort"}},
        {"keys": {"ed25519:DEV1": 5}},
        {"keys": []},
    ],
)
def test_malformed_device_keys_are_invalid_param(change: JsonDict) -> None:
    keys = {**device_keys(SigningKey.generate()), **change}

    with pytest.raises(MatrixError) as info:
        check_device_keys(keys, USER, DEVICE)
    assert info.value.errcode == "M_INVALID_PARAM"


def test_signed_one_time_keys_must_be_signed_by_the_device() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    ed = b64(bytes(key.verify_key))
    good = sign({"key": b64(b"o" * 32)}, key, USER, f"ed25519:{DEVICE}")
    bad = sign({"key": b64(b"o" * 32)}, other, USER, f"ed25519:{DEVICE}")

    keys = check_uploaded_keys("one_time_keys", {"signed_curve25519:A": good}, USER, DEVICE, ed)
    assert [(k.algorithm, k.key_id) for k in keys] == [("signed_curve25519", "A")]
    with pytest.raises(MatrixError) as info:
        check_uploaded_keys("one_time_keys", {"signed_curve25519:B": bad}, USER, DEVICE, ed)
    assert info.value.errcode == "M_INVALID_SIGNATURE"


@pytest.mark.parametrize(
    "keys",
    [
        {"nocolon": {"key": "x"}},
        {":A": {"key": "x"}},
        {"signed_curve25519:": {"key": "x"}},
        {"signed_curve25519:A": "unsigned string"},
        {"signed_curve25519:A": {"no": "key"}},
        {"signed_curve25519:A": 5},
    ],
)
def test_malformed_uploaded_keys_are_invalid_param(keys: JsonDict) -> None:
    with pytest.raises(MatrixError) as info:
        check_uploaded_keys("one_time_keys", keys, USER, DEVICE, "A" * 43)
    assert info.value.errcode == "M_INVALID_PARAM"


def test_signed_keys_without_device_keys_are_refused() -> None:
    with pytest.raises(MatrixError) as info:
        check_uploaded_keys(
            "one_time_keys",
            {"signed_curve25519:A": {"key": "x", "signatures": {}}},
            USER,
            DEVICE,
            None,
        )
    assert info.value.errcode == "M_INVALID_PARAM"


def test_unsigned_curve25519_keys_pass_as_they_are() -> None:
    keys = check_uploaded_keys("one_time_keys", {"curve25519:A": "abc"}, USER, DEVICE, None)

    assert keys[0].raw == '"abc"'


def test_one_fallback_key_per_algorithm() -> None:
    key = SigningKey.generate()
    ed = b64(bytes(key.verify_key))
    two: JsonDict = {
        f"signed_curve25519:{i}": sign(
            {"key": b64(bytes([i]) * 32), "fallback": True}, key, USER, f"ed25519:{DEVICE}"
        )
        for i in range(2)
    }
    keys = check_uploaded_keys("fallback_keys", two, USER, DEVICE, ed)

    with pytest.raises(MatrixError):
        check_one_fallback_per_algorithm(keys)


def cross_key(key: SigningKey, usage: str, user: str = USER) -> JsonDict:
    public = b64(bytes(key.verify_key))
    return {"user_id": user, "usage": [usage], "keys": {f"ed25519:{public}": public}}


def test_cross_signing_keys_are_checked_and_chained_to_the_master() -> None:
    master, ssk = SigningKey.generate(), SigningKey.generate()
    master_public = cross_signing_public_key(
        cross_key(master, "master"), USER, CrossSigningKeyType.MASTER
    )
    signed_ssk = sign(cross_key(ssk, "self_signing"), master, USER, f"ed25519:{master_public}")

    check_signed_by_master(signed_ssk, USER, master_public, "self_signing")
    with pytest.raises(MatrixError) as info:
        check_signed_by_master(cross_key(ssk, "self_signing"), USER, master_public, "self_signing")
    assert info.value.errcode == "M_INVALID_SIGNATURE"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: {**k, "user_id": "@bob:localhost"},
        lambda k: {**k, "usage": ["self_signing"]},
        lambda k: {**k, "keys": {}},
        lambda k: {**k, "keys": {"ed25519:other": next(iter(k["keys"].values()))}},
    ],
    ids=["user", "usage", "no-key", "misnamed"],
)
def test_malformed_cross_signing_keys_are_invalid_param(mangle: object) -> None:
    key = cross_key(SigningKey.generate(), "master")

    with pytest.raises(MatrixError) as info:
        cross_signing_public_key(mangle(key), USER, CrossSigningKeyType.MASTER)  # type: ignore[operator]
    assert info.value.errcode == "M_INVALID_PARAM"
