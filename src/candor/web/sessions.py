"""The browser side of a web session: signed cookies and the keys that sign them.

The `candor_session` cookie holds the session token signed with itsdangerous (HMAC-
SHA256), so a tampered or invented cookie is refused before any database read; the
session itself lives in `web_sessions` (see `matrix/web_sessions/service.py`), so
logging out ends it on the server too. Cookies are HttpOnly (no script reads them),
SameSite=Lax (other sites' forms do not carry them), Path=/, and Secure when the request
came over https. Both keys are derived from the server's token key (`Settings.token_key`,
generated on first start into the data dir), so every worker shares them and there is no
new secret file to keep.
"""

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from candor.matrix.web_sessions.service import SESSION_LIFETIME_MS

SESSION_COOKIE = "candor_session"
CSRF_COOKIE = "candor_csrf"
MAX_COOKIE_LENGTH = 512


@dataclass(frozen=True, slots=True)
class WebKeys:
    session_signer: Signer
    csrf_signer: Signer
    csrf_key: bytes

    @classmethod
    def derive(cls, token_key: bytes) -> "WebKeys":
        """Separate keys per purpose, so one use can never be replayed as another."""

        def sub(purpose: bytes) -> bytes:
            return hmac.new(token_key, b"candor/web/" + purpose, hashlib.sha256).digest()

        return cls(
            session_signer=Signer(
                sub(b"session-cookie"),
                salt=b"candor.web.session",
                key_derivation="hmac",
                digest_method=hashlib.sha256,
            ),
            csrf_signer=Signer(
                sub(b"csrf-cookie"),
                salt=b"candor.web.csrf",
                key_derivation="hmac",
                digest_method=hashlib.sha256,
            ),
            csrf_key=sub(b"csrf-token"),
        )


def read_signed_cookie(request: Request, name: str, signer: Signer) -> str | None:
    """The cookie's value if its signature holds, else None (absent, tampered, foreign)."""
    raw = request.cookies.get(name)
    if not raw or len(raw) > MAX_COOKIE_LENGTH or not raw.isascii():
        return None
    try:
        return signer.unsign(raw).decode()
    except BadSignature:
        return None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, keys: WebKeys, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        keys.session_signer.sign(token).decode(),
        max_age=SESSION_LIFETIME_MS // 1000,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def set_csrf_cookie(response: Response, request: Request, keys: WebKeys, nonce: str) -> None:
    """A browser-session cookie (no Max-Age): it lives as long as the open forms."""
    response.set_cookie(
        CSRF_COOKIE,
        keys.csrf_signer.sign(nonce).decode(),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", secure=_secure(request), httponly=True, samesite="lax")
