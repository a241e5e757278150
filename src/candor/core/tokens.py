"""Secret tokens: a kind prefix, random body and checksum; only an HMAC of the token is stored.

The prefix (`cdr_at_`) lets secret scanners recognise a leaked token; the CRC lets us
reject typos without a database read; storing only a keyed hash means a database dump
yields no usable credentials (DESIGN invariant 6).
"""

import base64
import hashlib
import hmac
import secrets
import zlib


def _checksum(body: str) -> str:
    return (
        base64.b32encode(zlib.crc32(body.encode()).to_bytes(4, "big")).decode()[:7].lower()
    )  # all 32 CRC bits: every one-character typo is caught


def new_token(prefix: str) -> str:
    body = secrets.token_urlsafe(32)
    return f"{prefix}{body}_{_checksum(body)}"


def is_well_formed(token: str, prefix: str) -> bool:
    if not token.isascii() or not token.startswith(prefix):
        return False
    body, sep, check = token[len(prefix) :].rpartition("_")
    return bool(sep) and hmac.compare_digest(check, _checksum(body))


def hash_token(token: str, key: bytes) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def random_string(nbytes: int = 12) -> str:
    """An opaque URL-safe identifier (room and event ids, device ids)."""
    return secrets.token_urlsafe(nbytes)
