"""Fake end-to-end encryption devices: real ed25519/curve25519 keys, signed the Matrix way.

https://spec.matrix.org/v1.11/appendices/#signing-json — a signature covers the canonical
JSON of the object without `signatures` and `unsigned`; keys and signatures are unpadded
base64. A `FakeDevice` builds `device_keys`, signed one-time keys and fallback keys; a
`CrossSigning` builds master, self-signing and user-signing keys and signs with them.
"""

import base64
import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from tests.helpers.matrix import V3, MatrixTestClient

JsonDict = dict[str, object]

MEGOLM = "m.megolm.v1.aes-sha2"
OLM = "m.olm.v1.curve25519-aes-sha2"
SIGNED_CURVE25519 = "signed_curve25519"

_key_ids = itertools.count(1)


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def unpadded_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def signature_of(obj: JsonDict, key: SigningKey) -> str:
    """The unpadded base64 ed25519 signature of `obj` as Matrix signs it."""
    signed = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return unpadded_b64(key.sign(canonical_json(signed)).signature)


def public_key(key: SigningKey) -> str:
    return unpadded_b64(bytes(key.verify_key))


def add_signature(obj: JsonDict, user_id: str, key_id: str, key: SigningKey) -> JsonDict:
    """A deep copy of `obj` carrying one more signature, by `user_id`'s `key_id`."""
    out = copy.deepcopy(obj)
    sig = signature_of(out, key)
    signatures = out.setdefault("signatures", {})
    assert isinstance(signatures, dict)
    signatures.setdefault(user_id, {})[key_id] = sig
    return out


def curve25519_key() -> str:
    return unpadded_b64(bytes(PrivateKey.generate().public_key))


@dataclass
class FakeDevice:
    """One client device: its ed25519 identity key and curve25519 key."""

    user_id: str
    device_id: str
    signing_key: SigningKey = field(default_factory=SigningKey.generate)
    curve_key: PrivateKey = field(default_factory=PrivateKey.generate)

    @classmethod
    def of(cls, client: MatrixTestClient) -> "FakeDevice":
        return cls(client.user_id, client.device_id)

    @property
    def ed25519(self) -> str:
        return public_key(self.signing_key)

    @property
    def curve25519(self) -> str:
        return unpadded_b64(bytes(self.curve_key.public_key))

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.device_id}"

    def sign(self, obj: JsonDict) -> JsonDict:
        return add_signature(obj, self.user_id, self.key_id, self.signing_key)

    def device_keys(self, **extra: object) -> JsonDict:
        """The self-signed `device_keys` object; `extra` fields are signed along."""
        return self.sign(
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "algorithms": [OLM, MEGOLM],
                "keys": {
                    f"curve25519:{self.device_id}": self.curve25519,
                    f"ed25519:{self.device_id}": self.ed25519,
                },
                **extra,
            }
        )

    def one_time_key(self, *, fallback: bool = False) -> JsonDict:
        key: JsonDict = {"key": curve25519_key()}
        if fallback:
            key["fallback"] = True
        return self.sign(key)

    def one_time_keys(self, n: int) -> dict[str, JsonDict]:
        """`n` signed curve25519 one-time keys under fresh, unique key ids."""
        return {f"{SIGNED_CURVE25519}:K{next(_key_ids):06d}": self.one_time_key() for _ in range(n)}

    def fallback_keys(self) -> dict[str, JsonDict]:
        return {f"{SIGNED_CURVE25519}:F{next(_key_ids):06d}": self.one_time_key(fallback=True)}


def forged(obj: JsonDict, user_id: str, key_id: str) -> JsonDict:
    """`obj` with its signature by `key_id` replaced by one from an unrelated key."""
    out = copy.deepcopy(obj)
    signatures = out.get("signatures")
    if isinstance(signatures, dict):
        by_user = signatures.get(user_id)
        if isinstance(by_user, dict):
            by_user.pop(key_id, None)
    return add_signature(out, user_id, key_id, SigningKey.generate())


@dataclass
class CrossSigning:
    """A user's master, self-signing and user-signing keys."""

    user_id: str
    master: SigningKey = field(default_factory=SigningKey.generate)
    self_signing: SigningKey = field(default_factory=SigningKey.generate)
    user_signing: SigningKey = field(default_factory=SigningKey.generate)

    @staticmethod
    def key_id(key: SigningKey) -> str:
        return f"ed25519:{public_key(key)}"

    def unsigned_key(self, usage: str) -> JsonDict:
        """The key object for `usage` (master, self_signing, user_signing), unsigned."""
        key = {"master": self.master, "self_signing": self.self_signing}.get(
            usage, self.user_signing
        )
        return {
            "user_id": self.user_id,
            "usage": [usage],
            "keys": {self.key_id(key): public_key(key)},
        }

    def master_key(self) -> JsonDict:
        return self.unsigned_key("master")

    def self_signing_key(self, signed_by: SigningKey | None = None) -> JsonDict:
        return self.sign_with(self.unsigned_key("self_signing"), signed_by or self.master)

    def user_signing_key(self, signed_by: SigningKey | None = None) -> JsonDict:
        return self.sign_with(self.unsigned_key("user_signing"), signed_by or self.master)

    def sign_with(self, obj: JsonDict, key: SigningKey) -> JsonDict:
        return add_signature(obj, self.user_id, self.key_id(key), key)

    def upload_body(self) -> JsonDict:
        return {
            "master_key": self.master_key(),
            "self_signing_key": self.self_signing_key(),
            "user_signing_key": self.user_signing_key(),
        }


# --- HTTP shortcuts ------------------------------------------------------------------


async def login(
    http: httpx.AsyncClient,
    user: MatrixTestClient,
    device_id: str | None = None,
    display_name: str | None = None,
    password: str = "correct horse",
) -> MatrixTestClient:
    """Another login (so another device) of `user`."""
    body: JsonDict = {"type": "m.login.password", "user": user.user_id, "password": password}
    if device_id is not None:
        body["device_id"] = device_id
    if display_name is not None:
        body["initial_device_display_name"] = display_name
    r = await http.post(f"{V3}/login", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    return MatrixTestClient(http, got["user_id"], got["access_token"], got["device_id"])


def password_auth(user_id: str, session: str | None, password: str = "correct horse") -> JsonDict:
    """A UIA `auth` dict for the m.login.password stage."""
    auth: JsonDict = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user_id},
        "password": password,
    }
    if session is not None:
        auth["session"] = session
    return auth


async def upload_keys(client: MatrixTestClient, **body: object) -> dict[str, int]:
    """POST /keys/upload that must succeed; returns `one_time_key_counts`."""
    got = await client.ok("POST", "/keys/upload", json=body)
    counts: dict[str, int] = got["one_time_key_counts"]
    return counts


async def query_keys(client: MatrixTestClient, *user_ids: str) -> dict[str, Any]:
    """POST /keys/query for every device of `user_ids` (a response body: JSON, so Any)."""
    got: dict[str, Any] = await client.ok(
        "POST", "/keys/query", json={"device_keys": {u: [] for u in user_ids}}
    )
    return got


async def claim_one(client: MatrixTestClient, user_id: str, device_id: str) -> JsonDict:
    """Claims one signed_curve25519 key of a device; returns {key id: key} (empty if none)."""
    got = await client.ok(
        "POST",
        "/keys/claim",
        json={"one_time_keys": {user_id: {device_id: SIGNED_CURVE25519}}},
    )
    by_user = got["one_time_keys"].get(user_id, {})
    keys: JsonDict = by_user.get(device_id, {})
    return keys
