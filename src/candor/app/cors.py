"""CORS for the APIs browsers call from other origins, and for nothing else.

Why: a web client (Element Web, a partner's single-page app) runs on its own origin, and a
browser lets it read Candor's answers only if they say so. The Matrix spec's "Web browser
clients" section asks every client-server response, errors included, to carry
`Access-Control-Allow-Origin: *` and the allowed methods and headers, and every `OPTIONS`
preflight to be answered, whatever the path. The same holds for the OAuth endpoints a
public (PKCE) client calls from a browser: token, revocation, introspection and the
server's metadata.

What stays closed: the cookie-authenticated web pages and forms (`/login`, `/privacy/…`,
`/oauth/authorize`, the portal) get no CORS header at all, so another origin can neither
read them nor preflight a request to them. No answer ever says
`Access-Control-Allow-Credentials`: the open APIs take bearer tokens and client
credentials, never cookies, so a cross-origin page learns nothing a cookie could unlock.

A preflight is answered here, before routing, the body guard or authentication: it is the
browser asking, not the client, and it carries no token.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Path prefixes whose answers any origin may read (see the module docstring).
CORS_PREFIXES = ("/_matrix/", "/.well-known/matrix/")
CORS_PATHS = frozenset(
    {
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/.well-known/oauth-authorization-server",
    }
)
ALLOW_METHODS = b"GET, HEAD, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = b"X-Requested-With, Content-Type, Authorization"
MAX_AGE_S = b"86400"

CORS_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", ALLOW_METHODS),
    (b"access-control-allow-headers", ALLOW_HEADERS),
)
_NAMES = frozenset(name for name, _ in CORS_HEADERS)
_PREFLIGHT_HEADERS = [
    *CORS_HEADERS,
    (b"access-control-max-age", MAX_AGE_S),
    (b"content-length", b"0"),
]


def is_cors_path(path: str) -> bool:
    return path.startswith(CORS_PREFIXES) or path in CORS_PATHS


class CorsMiddleware:
    """Outermost: answers preflights and adds the headers to every answer on the open APIs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_cors_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {"type": "http.response.start", "status": 204, "headers": _PREFLIGHT_HEADERS}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        await self.app(scope, receive, _SendWithCors(send))


class _SendWithCors:
    """`send`, adding the CORS headers to the response's start.

    An object of one slot rather than a closure: a parked /sync long-poll keeps its `send`
    chain for its whole wait, and a closure costs about five times as much (issue 17)."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _NAMES]
            message = {**message, "headers": [*headers, *CORS_HEADERS]}
        await self._send(message)
