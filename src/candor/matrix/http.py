"""Small helpers for Matrix endpoints: fast JSON responses and id parsing at the edge."""

from typing import Generic, TypeVar

from fastapi import Request, Response

from candor.core.canonical_json import encode
from candor.core.ids import RoomID, UserID

S = TypeVar("S")

# Where the client-server API lives (the spec's v3 paths).
CLIENT_PREFIX = "/_matrix/client/v3"
# Where a few endpoints also answer under their pre-v3 name, because clients still call
# them there (each alias names the client that does).
UNSTABLE_CLIENT_PREFIX = "/_matrix/client/unstable"


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


def provided(request: Request, kind: type[S]) -> S:
    """The one `kind` the composition root (candor/wiring.py) built for this app.

    Why not FastAPI's `Depends(KindService)`: that would build a service per request and
    hide what it is built from; here every service is made once, from named parts."""
    found = request.app.state.provided[kind]
    if not isinstance(found, kind):
        raise TypeError(f"{kind.__name__} is not provided by this app")
    return found


class Provided(Generic[S]):
    """FastAPI dependency handing out the app's one `kind`: `Depends(Provided(KindService))`.

    One class for every service, instead of a getter function per service; async, so
    FastAPI does not run it in its thread pool."""

    def __init__(self, kind: type[S]) -> None:
        self.kind = kind

    async def __call__(self, request: Request) -> S:
        return provided(request, self.kind)
