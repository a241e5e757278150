"""Redirects to this server are relative: no response repeats the request's Host header.

Starlette builds some redirects from the request itself (the trailing-slash redirect of
`/privacy/grants/` → `http://HOST/privacy/grants`), so a request with a foreign `Host`
got that host back in `Location` — something a shared cache could keep and show to
others. Every URL Candor emits on purpose comes from `http.public_base_url`; for these
redirects the simplest rule is a relative `Location` (RFC 9110 §10.2.2 allows it), which
a client resolves against the URL it actually used. It applies to every path.
"""

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LOCATION = b"location"


def relative_location(location: bytes, scheme: str, host: bytes) -> bytes:
    """`location` as a path (and query) if it points at the origin the request named,
    else unchanged. For the client that sent the request the two mean the same URL."""
    try:
        parts = urlsplit(location.decode("latin-1"))
    except ValueError:
        return location
    if parts.scheme != scheme or parts.netloc.encode("latin-1").lower() != host.lower():
        return location
    path = "/" + parts.path.lstrip("/")  # never `//…`, which would name another host
    query = f"?{parts.query}" if parts.query else ""
    return (path + query).encode("latin-1")


class RelativeRedirectMiddleware:
    """Rewrites a `Location` on the request's own (claimed) origin to a relative one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = next((v for k, v in scope.get("headers", ()) if k == b"host"), None)
        if scope["type"] != "http" or not host:
            await self.app(scope, receive, send)
            return
        scheme = str(scope.get("scheme", "http"))
        await self.app(scope, receive, _SendRelative(send, scheme, host))


class _SendRelative:
    """`send`, making the response's `Location` relative (see `relative_location`).

    An object with slots rather than a closure: a parked /sync long-poll keeps its `send`
    chain for its whole wait, and a closure costs several times as much (issue 17)."""

    __slots__ = ("_host", "_scheme", "_send")

    def __init__(self, send: Send, scheme: str, host: bytes) -> None:
        self._send = send
        self._scheme = scheme
        self._host = host

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, relative_location(v, self._scheme, self._host) if k.lower() == _LOCATION else v)
                for k, v in message.get("headers", ())
            ]
            message = {**message, "headers": headers}
        await self._send(message)
