"""Security headers on every web page: a strict CSP, no sniffing, same-origin referrers.

Pages have no inline scripts or styles, so the policy allows only this origin's files;
`frame-ancestors 'none'` stops clickjacking and `form-action 'self'` keeps forms (and
their CSRF tokens) from being pointed elsewhere. The Matrix and Candor JSON APIs are left
exactly as they were.

One page widens `form-action`: the OAuth consent form, whose answer redirects (303) to the
app's registered redirect URI, and browsers apply `form-action` to a form's redirects. It
sets its own policy with `policy_with_form_action`, which the middleware then keeps.
"""

import re
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor.web.errors import is_web_path

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
_CSP = b"content-security-policy"
_ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def policy_with_form_action(url: str) -> str:
    """The page policy, with forms also allowed to lead to `url`'s origin (if plain)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not _ORIGIN.match(origin):
        return CONTENT_SECURITY_POLICY
    return f"{CONTENT_SECURITY_POLICY} {origin}"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_web_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = [v for k, v in message.get("headers", ()) if k.lower() == _CSP]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _NAMES]
                added = [(k, v) for k, v in SECURITY_HEADERS if not (own and k == _CSP)]
                kept = [(_CSP, own[0])] if own else []
                message = {**message, "headers": [*headers, *kept, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
