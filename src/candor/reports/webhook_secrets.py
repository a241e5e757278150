"""Standard Webhooks signing secrets: generated here, stored only sealed under the server key.

A webhook secret cannot be stored as a hash like the other partner secrets (DESIGN
invariant 6): HMAC signing needs the secret itself. It is sealed instead (XSalsa20-Poly1305,
PyNaCl's SecretBox) under a key derived from the server's `token_key`, so a database dump
alone does not let anyone forge deliveries. The derivation label is versioned so a later
scheme can coexist with sealed values of this one.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's secret-kind prefix, not a secret
SECRET_BYTES = 24  # the spec asks for 24 to 64 random bytes
_SEAL_LABEL = b"candor webhook secret v1"


class UnsealError(Exception):
    """A sealed secret that does not open: another server key, or a damaged value.

    The message never contains key material or the sealed value.
    """


def new_webhook_secret() -> str:
    """A fresh signing secret in the spec's `whsec_<base64>` form, shown once to the partner."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _box(token_key: bytes) -> SecretBox:
    # A separate key per purpose: the token key also HMACs access tokens, and one key must
    # not serve two constructions.
    key = hmac.new(token_key, _SEAL_LABEL, hashlib.sha256).digest()
    return SecretBox(key)


def seal(secret: str, token_key: bytes) -> str:
    """The value to store in `partner_apps.webhook_secret_sealed` (base64 of nonce‖box)."""
    sealed = _box(token_key).encrypt(secret.encode("utf-8"))
    return base64.b64encode(bytes(sealed)).decode("ascii")


def unseal(sealed: str, token_key: bytes) -> str:
    """The secret back, or `UnsealError` (never nacl's own error, so callers need one except)."""
    try:
        raw = base64.b64decode(sealed.encode("ascii"), validate=True)
        return _box(token_key).decrypt(raw).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError, CryptoError):
        raise UnsealError("the webhook secret cannot be unsealed with this server key") from None
