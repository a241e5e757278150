"""A secret shown once, after a redirect: the post/redirect/get hand-over for new secrets.

A form that makes a secret (a new confidential app's client secret, a webhook signing
secret) must not show it in the POST's answer: reloading that answer posts again and makes
another secret. Instead the POST seals the secret into a short-lived cookie scoped to the
one page that shows it and redirects there; that GET opens the cookie, shows the secret and
deletes the cookie in the same answer, so a reload shows the page without it and makes
nothing. Candor keeps no copy: nothing on the server can show it again.

The cookie is sealed (XSalsa20-Poly1305, a key derived from the server's token key for
this purpose only), not just signed, so the secret is never readable in the browser's
cookie store; it is bound to the web session that made it (a hash of its token) and to
the page's kind and object, and it expires after a few minutes. HttpOnly, SameSite=Strict,
Path = the showing page, Secure over https.
"""

import base64
import binascii
import hashlib
import hmac
import time

import orjson
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from starlette.requests import Request
from starlette.responses import Response

from candor.web.pages import Page

ONCE_COOKIE = "candor_once"
ONCE_LIFETIME_S = 300
_MAX_LENGTH = 1024
_LABEL = b"candor/web/once-cookie v1"


def _box(request: Request) -> SecretBox:
    # A key of its own: the token key also HMACs access tokens and seals webhook secrets.
    token_key: bytes = request.app.state.homeserver.token_key
    return SecretBox(hmac.new(token_key, _LABEL, hashlib.sha256).digest())


def _binding(session_token: str | None, kind: str, subject: str) -> str:
    session = hashlib.sha256((session_token or "").encode()).hexdigest()
    return f"{session}:{kind}:{subject}"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def hand_over(
    response: Response,
    page: Page,
    *,
    kind: str,
    subject: str,
    path: str,
    secret: str,
) -> None:
    """Put `secret` on `response` for the next GET of `path` by this session only."""
    payload = orjson.dumps(
        {
            "b": _binding(page.session_token, kind, subject),
            "s": secret,
            "e": int(time.time()) + ONCE_LIFETIME_S,
        }
    )
    sealed = base64.urlsafe_b64encode(bytes(_box(page.request).encrypt(payload))).decode("ascii")
    response.set_cookie(
        ONCE_COOKIE,
        sealed,
        max_age=ONCE_LIFETIME_S,
        path=path,
        secure=_secure(page.request),
        httponly=True,
        samesite="strict",
    )


def take(page: Page, *, kind: str, subject: str) -> str | None:
    """The secret handed over to this page, or None (none, expired, another session's,
    another page's, or tampered). Call `forget` on the answer whenever a cookie came."""
    raw = page.request.cookies.get(ONCE_COOKIE)
    if not raw or len(raw) > _MAX_LENGTH or not raw.isascii():
        return None
    try:
        opened = orjson.loads(
            _box(page.request).decrypt(base64.urlsafe_b64decode(raw.encode("ascii")))
        )
    except (binascii.Error, ValueError, CryptoError, orjson.JSONDecodeError):
        return None
    if not isinstance(opened, dict):
        return None
    secret, binding, expires = opened.get("s"), opened.get("b"), opened.get("e")
    if not isinstance(secret, str) or not isinstance(expires, int) or expires < time.time():
        return None
    expected = _binding(page.session_token, kind, subject)
    if not isinstance(binding, str) or not hmac.compare_digest(binding, expected):
        return None
    return secret


def forget(response: Response, page: Page, path: str) -> None:
    """Delete the one-time cookie if one came: the page showing the secret is its only reader."""
    if ONCE_COOKIE in page.request.cookies:
        response.delete_cookie(
            ONCE_COOKIE, path=path, secure=_secure(page.request), httponly=True, samesite="strict"
        )
