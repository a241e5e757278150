"""Small helpers for Matrix endpoints: fast JSON responses and id parsing at the edge."""

from fastapi import Response

from candor.core.canonical_json import encode
from candor.core.ids import RoomID, UserID


def json_response(body: object, status: int = 200) -> Response:
    """Serialise with orjson directly; FastAPI's encoder is a measurable cost on hot paths."""
    return Response(content=encode(body), status_code=status, media_type="application/json")


EMPTY = b"{}"


def empty_response() -> Response:
    return Response(content=EMPTY, media_type="application/json")


def user_id_param(raw: str) -> str:
    return str(UserID.parse(raw))


def room_id_param(raw: str) -> str:
    return str(RoomID.parse(raw))
