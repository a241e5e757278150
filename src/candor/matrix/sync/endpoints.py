"""/sync, /messages and the reads around a point of a room's history (/context,
/timestamp_to_event, the deprecated /events/{eventId} and room /initialSync).
https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3sync"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from candor.core.canonical_json import JsonDict, decode
from candor.matrix.accounts.service import AccountsService
from candor.matrix.auth import RequesterDep, get_requester
from candor.matrix.errors import BadJson, Codes, MatrixError, NotFound
from candor.matrix.events.filters import EventFilter, SyncFilter
from candor.matrix.events.model import StoredEvent, serialize_event
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response, provided, room_id_param
from candor.matrix.presence.service import PresenceService
from candor.matrix.relations.service import RelationsService
from candor.matrix.requester import Requester
from candor.matrix.sync.history import HistoryService
from candor.matrix.sync.messages import MessagesService
from candor.matrix.sync.parking import ParkedSync
from candor.matrix.sync.query import OPENAPI_PARAMETERS, SyncQuery
from candor.matrix.sync.service import LongPoll, SyncService
from candor.matrix.sync.tokens import SyncToken

router = APIRouter(prefix=CLIENT_PREFIX)
# /timestamp_to_event is a v1 endpoint (app/factory.py lists this router too).
v1_router = APIRouter(prefix="/_matrix/client/v1")


MessagesDep = Annotated[MessagesService, Depends(Provided(MessagesService))]
RelationsDep = Annotated[RelationsService, Depends(Provided(RelationsService))]
HistoryDep = Annotated[HistoryService, Depends(Provided(HistoryService))]


def _inline_json(raw: str) -> object:
    try:
        return decode(raw)
    except ValueError:
        raise BadJson("filter is not valid JSON") from None


@router.get("/sync", openapi_extra={"parameters": OPENAPI_PARAMETERS})
async def sync(request: Request) -> Response:
    # No FastAPI dependencies or parameters: this is every client's hot loop (`query.py`).
    requester = await get_requester(request)
    query = SyncQuery.parse(request.query_params)
    service = provided(request, SyncService)
    raw_filter = query.filter
    if raw_filter is None:
        sync_filter = SyncFilter.parse(None)
    elif raw_filter.lstrip().startswith("{"):
        sync_filter = SyncFilter.parse(_inline_json(raw_filter))
    else:
        accounts = provided(request, AccountsService)
        try:
            raw = await accounts.get_filter(requester, requester.user_id, raw_filter)
        except NotFound:
            raise BadJson("Unknown filter id") from None
        sync_filter = SyncFilter.parse(raw)
    token = SyncToken.parse(query.since) if query.since else None
    await provided(request, PresenceService).on_sync(requester, query.set_presence)
    outcome = await service.start(requester, token, query.timeout_ms, sync_filter, query.full_state)
    if isinstance(outcome, LongPoll):
        return ParkedSync(outcome)
    return json_response(outcome)


@router.get("/rooms/{room_id}/messages")
async def messages(
    room_id: str,
    requester: RequesterDep,
    service: MessagesDep,
    relations: RelationsDep,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    to: Annotated[str | None, Query(max_length=64)] = None,
    dir: Annotated[str, Query(max_length=1)] = "b",
    limit: Annotated[int, Query(ge=0, le=100_000)] = 10,
    filter: Annotated[str | None, Query(max_length=8192)] = None,
) -> Response:
    flt = EventFilter.parse(_inline_json(filter)) if filter else EventFilter()
    page = await service.messages(requester, room_id_param(room_id), from_, to, dir, limit, flt)
    chunk = [
        serialize_event(e, now_ms=page.read_ms, requester_device=requester.device)
        for e in page.events
    ]
    await relations.bundle(requester, chunk)  # unsigned.m.relations (relations/bundles.py)
    body: dict[str, object] = {"chunk": chunk, "start": page.start}
    if page.end is not None:
        body["end"] = page.end
    return json_response(body)


# --- around a point of the history (`sync/history.py`) ------------------------------------


def _serialize_history(
    events: list[StoredEvent], requester: Requester, read_ms: int
) -> list[JsonDict]:
    """The one place /context (and the deprecated reads below) turn events into their
    client format; the timeline events then get their bundled aggregations
    (`unsigned.m.relations`) in one `RelationsService.bundle` call per answer."""
    return [serialize_event(e, now_ms=read_ms, requester_device=requester.device) for e in events]


def _room_event_filter(raw: str | None) -> tuple[EventFilter, bool]:
    """A `RoomEventFilter` given inline as JSON, and its `lazy_load_members`."""
    if not raw:
        return EventFilter(), False
    parsed = _inline_json(raw)
    lazy = isinstance(parsed, dict) and parsed.get("lazy_load_members") is True
    return EventFilter.parse(parsed), lazy


@router.get("/rooms/{room_id}/context/{event_id}")
async def context(
    room_id: str,
    event_id: str,
    requester: RequesterDep,
    service: HistoryDep,
    relations: RelationsDep,
    limit: Annotated[int, Query(ge=0, le=100_000)] = 10,
    filter: Annotated[str | None, Query(max_length=8192)] = None,
) -> Response:
    """https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3roomsroomidcontexteventid"""
    flt, lazy = _room_event_filter(filter)
    ctx = await service.context(requester, room_id_param(room_id), event_id, limit, flt, lazy)
    # Every event of the answer is serialised in one call, in one place (above).
    before, (event,), after, state = (
        _serialize_history(part, requester, ctx.read_ms)
        for part in (ctx.before, [ctx.event], ctx.after, ctx.state)
    )
    await relations.bundle(requester, [*before, event, *after])
    return json_response(
        {
            "event": event,
            "events_before": before,
            "events_after": after,
            "start": ctx.start,
            "end": ctx.end,
            "state": state,
        }
    )


@v1_router.get("/rooms/{room_id}/timestamp_to_event")
async def timestamp_to_event(
    room_id: str,
    requester: RequesterDep,
    service: HistoryDep,
    ts: Annotated[int, Query(ge=0, le=2**53)],
    dir: Annotated[str, Query(max_length=1)],
) -> Response:
    """https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv1roomsroomidtimestamp_to_event"""
    ev = await service.closest_event(requester, room_id_param(room_id), ts, dir)
    return json_response({"event_id": ev.event_id, "origin_server_ts": ev.origin_server_ts})


@router.get("/events/{event_id}")
async def event_by_id(
    event_id: str, requester: RequesterDep, service: HistoryDep, relations: RelationsDep
) -> Response:
    """Deprecated since r0, still served (as Synapse does): the room is the event's own."""
    ev = await service.event_by_id(requester, event_id)
    (body,) = _serialize_history([ev], requester, service.read_ms())
    await relations.bundle(requester, [body])
    return json_response(body)


@router.get("/rooms/{room_id}/initialSync")
async def room_initial_sync(
    room_id: str, requester: RequesterDep, service: HistoryDep, relations: RelationsDep
) -> Response:
    """The room's newest messages and state, for a member or a world-readable room's peeker."""
    snap = await service.room_initial_sync(requester, room_id_param(room_id))
    chunk = _serialize_history(snap.events, requester, snap.read_ms)
    await relations.bundle(requester, chunk, room_id=snap.room_id)
    body: JsonDict = {
        "room_id": snap.room_id,
        "messages": {
            "chunk": chunk,
            "start": snap.start,
            "end": snap.end,
        },
        "state": _serialize_history(snap.state, requester, snap.read_ms),
    }
    if snap.membership is not None:
        body["membership"] = snap.membership
    return json_response(body)


# The event stream of before r0 (`GET /events`, with or without `room_id` for peeking) and
# the global `GET /initialSync` are refused: each needs a second long-poll and an
# all-rooms snapshot beside /sync's, for clients no longer written. The refusal is the
# spec's answer to an endpoint a server does not serve, with a reason naming /sync.
_OLD_SYNC = "Deprecated since r0 and not served here: use /sync"


@router.get("/events")
async def old_event_stream(requester: RequesterDep) -> Response:
    raise MatrixError(404, Codes.UNRECOGNIZED, _OLD_SYNC)


@router.get("/initialSync")
async def old_initial_sync(requester: RequesterDep) -> Response:
    raise MatrixError(404, Codes.UNRECOGNIZED, _OLD_SYNC)
