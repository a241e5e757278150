"""/sync and /messages. https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3sync"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from candor.core.canonical_json import decode
from candor.matrix.accounts.service import AccountsService
from candor.matrix.auth import RequesterDep, get_requester
from candor.matrix.errors import BadJson, NotFound
from candor.matrix.events.filters import EventFilter, SyncFilter
from candor.matrix.events.model import serialize_event
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response, provided, room_id_param
from candor.matrix.presence.service import PresenceService
from candor.matrix.relations.service import RelationsService
from candor.matrix.sync.messages import MessagesService
from candor.matrix.sync.parking import ParkedSync
from candor.matrix.sync.query import OPENAPI_PARAMETERS, SyncQuery
from candor.matrix.sync.service import LongPoll, SyncService
from candor.matrix.sync.tokens import SyncToken

router = APIRouter(prefix=CLIENT_PREFIX)


MessagesDep = Annotated[MessagesService, Depends(Provided(MessagesService))]
RelationsDep = Annotated[RelationsService, Depends(Provided(RelationsService))]


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
