"""The canonical-JSON check of every JSON request body, fed by the body middleware.

Every body FastAPI would parse as JSON streams through the app's body middleware, so
checking it there covers every route, present and future, with no router able to forget
it. The check raises from the middleware's `receive`, which FastAPI turns into a 400 whose
cause the app's error handlers answer with (`M_BAD_JSON`, `CANDOR_BAD_JSON`, or the error
page on web paths).

Rejected alternatives: FastAPI's custom Request class needs `route_class=` on each of the
thirty-odd routers (FastAPI 0.163 builds an included route's handler from its own class, so
it cannot be applied once in `create_app`), and a new router could forget it. The cost of
this way is a second parse of each accepted body (FastAPI's own `json.loads`): a few
microseconds for a message. Both parsers accept the same texts with the same values once
the strict one has passed, since its hooks return exactly what the defaults would.
"""

import json
from collections.abc import Iterable
from email.message import Message

from candor.core.canonical_json import decode_client
from candor.core.errors import CandorError


def is_json_content(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI would parse this request's body as JSON (its own content-type test)."""
    for name, value in headers:
        if name == b"content-type":
            message = Message()
            message["content-type"] = value.decode("latin-1")
            subtype = message.get_content_subtype()
            return message.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            )
    return False


class JsonBodyCheck:
    """Collects one request body as it streams in and checks it once it is complete."""

    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def feed(self, chunk: bytes, *, more: bool) -> None:
        """Raises BadClientJson (M_BAD_JSON) or M_NOT_JSON on the last chunk of a bad body."""
        self._chunks.append(chunk)
        if more:
            return
        raw = b"".join(self._chunks)
        self._chunks = []
        if not raw:
            return  # no body: the route's own rules say whether one is required
        try:
            decode_client(raw)
        except json.JSONDecodeError:
            raise CandorError("Content not JSON.", status=400, errcode="M_NOT_JSON") from None
