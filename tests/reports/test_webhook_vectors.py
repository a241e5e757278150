"""Our signing call reproduces the Standard Webhooks vectors in tests/data/transparency.

`sign_v1` are the reference libraries' own HMAC-SHA256 vectors, signed through
`candor.reports.deliver.sign_headers` exactly as the worker signs. The spec's asymmetric
`v1a` (Ed25519) scheme is not implemented by the `standardwebhooks` library nor used by us;
its derived vector is cross-checked with PyNaCl so the vector file stays trustworthy.
"""

import base64
import json
from typing import Any

import pytest
from nacl.signing import SigningKey, VerifyKey

from candor.reports.deliver import sign_headers
from tests.helpers.testdata import data_path

VECTORS: Any = json.loads(data_path("transparency", "standard_webhooks_vectors.json").read_text())


def signed_content(v: dict[str, Any]) -> bytes:
    return f"{v['msg_id']}.{v['timestamp']}.{v['payload']}".encode()


def test_the_vector_file_has_both_schemes() -> None:
    assert len(VECTORS["sign_v1"]) >= 2
    assert len(VECTORS["sign_v1a"]) >= 1


@pytest.mark.parametrize("vector", VECTORS["sign_v1"], ids=lambda v: v["desc"])
def test_sign_headers_reproduces_each_v1_vector(vector: dict[str, Any]) -> None:
    headers = sign_headers(
        vector["secret"], vector["msg_id"], vector["timestamp"], vector["payload"].encode()
    )
    assert headers["webhook-signature"] == vector["want_signature"]
    assert headers["webhook-id"] == vector["msg_id"]
    assert headers["webhook-timestamp"] == str(vector["timestamp"])
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("vector", VECTORS["sign_v1"], ids=lambda v: v["desc"])
def test_a_changed_byte_changes_the_v1_signature(vector: dict[str, Any]) -> None:
    payload = vector["payload"].replace("2", "3", 1).encode()
    headers = sign_headers(vector["secret"], vector["msg_id"], vector["timestamp"], payload)
    assert headers["webhook-signature"] != vector["want_signature"]


@pytest.mark.parametrize("vector", VECTORS["sign_v1a"], ids=lambda v: v["desc"])
def test_v1a_vector_is_a_valid_ed25519_signature(vector: dict[str, Any]) -> None:
    """Cross-check of the vector only: Candor signs v1 (the library has no v1a)."""
    key = SigningKey(base64.b64decode(vector["seed_b64"]))
    public = bytes(key.verify_key)
    assert base64.b64encode(public).decode() == vector["public_key_b64"]
    assert vector["whpk"] == "whpk_" + vector["public_key_b64"]
    version, sig_b64 = vector["want_signature"].split(",", 1)
    assert version == "v1a"
    signature = base64.b64decode(sig_b64)
    VerifyKey(public).verify(signed_content(vector), signature)
    # Ed25519 is deterministic: signing again gives the vector's exact bytes.
    assert key.sign(signed_content(vector)).signature == signature
