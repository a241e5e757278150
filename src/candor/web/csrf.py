"""CSRF tokens for every form: derived by HMAC, never stored, compared in constant time.

A logged-in form's token is HMAC(csrf key, session token): only a page served to that
session can know it, and logging out (a new session) retires it. An anonymous form (the
login form: login CSRF is real) uses a double-submit token: the browser holds a signed
random nonce in an HttpOnly cookie, the form carries HMAC(csrf key, nonce). Another site
can make the browser send the cookie but can neither read it nor forge its signature, so
it cannot produce the matching form field. Pure: no I/O.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from candor.core.errors import CandorError

CSRF_FIELD = "csrf_token"
NONCE_BYTES = 32


class CsrfFailed(CandorError):
    """The form did not come from a page this site served to this browser."""

    status = 403
    errcode = "CANDOR_CSRF_FAILED"

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again."
        )


def _derive(key: bytes, kind: bytes, secret: str) -> str:
    return hmac.new(key, kind + b"\x00" + secret.encode(), hashlib.sha256).hexdigest()


def session_csrf_token(key: bytes, session_token: str) -> str:
    return _derive(key, b"session", session_token)


def anonymous_csrf_token(key: bytes, nonce: str) -> str:
    return _derive(key, b"anonymous", nonce)


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def check_csrf_token(submitted: str | None, expected: Iterable[str]) -> None:
    """Raise CsrfFailed unless `submitted` equals one of the tokens this browser may send.

    Every candidate is compared (no early exit), each in constant time.
    """
    if not submitted:
        raise CsrfFailed
    matched = False
    for candidate in expected:
        matched |= hmac.compare_digest(submitted.encode(), candidate.encode())
    if not matched:
        raise CsrfFailed
