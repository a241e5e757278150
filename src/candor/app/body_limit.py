"""The request guard in front of everything: body size, NUL characters, canonical JSON.

It runs before any parser, so an oversized or malformed body costs Candor almost nothing
and reaches no handler. Media uploads (`POST`/`PUT /_matrix/media/v3/upload…`) are the
one kind of body that is not JSON: they pass through raw (their own Content-Type kept,
no JSON or NUL-escape check: a file may contain any bytes), bounded by the media upload
limit instead of the JSON one, and the media service streams them to disk.
"""

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from candor.core.canonical_json import encode as json_dumps
from candor.core.errors import CandorError
from candor.core.json_body import JsonBodyCheck, is_json_content
from candor.matrix.errors import Codes
from candor.matrix.media.rules import is_upload_path
from candor.web.errors import error_page, is_web_path


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413 M_TOO_LARGE, before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = is_upload_path(scope["method"], scope["path"])
        max_bytes = self.max_upload_bytes if upload else self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _refuse(
                        scope, receive, send, 413, Codes.TOO_LARGE, "Request body too large"
                    )
                    return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse(
                scope, receive, send, 400, Codes.INVALID_PARAM, "NUL characters are not allowed"
            )
            return
        if upload:
            await self.app(scope, _bounded(receive, max_bytes), send)
            return
        if scope["path"].startswith("/_matrix/"):
            # Matrix bodies are JSON whatever Content-Type a client sends (or omits).
            headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        seen = 0
        tail = b""
        # Every JSON body follows the canonical-JSON rules (core/json_body.py).
        check = JsonBodyCheck() if is_json_content(scope.get("headers", ())) else None

        async def limited_receive() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_bytes:
                    raise CandorError("Request body too large", status=413, errcode=Codes.TOO_LARGE)
                # PostgreSQL text cannot hold NUL, and no Matrix string needs one: refuse
                # the escaped form anywhere in the body (it may straddle two chunks).
                window = (tail + chunk).lower()
                if b"\\u0000" in window:
                    raise CandorError(
                        "NUL characters are not allowed", status=400, errcode=Codes.BAD_JSON
                    )
                tail = window[-5:]
                if check is not None:
                    check.feed(chunk, more=message.get("more_body", False))
            return message

        await self.app(scope, limited_receive, send)


def _bounded(receive: Receive, max_bytes: int) -> Receive:
    """`receive` that raises M_TOO_LARGE once more than `max_bytes` have arrived."""
    seen = 0

    async def bounded_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise CandorError("Request body too large", status=413, errcode=Codes.TOO_LARGE)
        return message

    return bounded_receive


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, errcode: Codes, message: str
) -> None:
    """Answer before the app sees the request: the error page on web paths, else JSON."""
    if is_web_path(scope["path"]):
        await error_page(Request(scope), status, message)(scope, receive, send)
        return
    await _send_error(send, status, errcode, message)


async def _send_error(send: Send, status: int, errcode: Codes, message: str) -> None:
    body = json_dumps({"errcode": errcode.value, "error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
