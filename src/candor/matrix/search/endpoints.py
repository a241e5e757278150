"""POST /search. https://spec.matrix.org/v1.11/client-server-api/#post_matrixclientv3search

`_client_event` is the one place a served event is turned into JSON (results, their
context and the rooms' state); the results and their context then get their bundled
aggregations (`unsigned.m.relations`) in one `RelationsService.bundle` call.
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.auth import RequesterDep
from candor.matrix.events.model import StoredEvent, serialize_event
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response
from candor.matrix.relations.service import RelationsService
from candor.matrix.requester import Requester
from candor.matrix.search.criteria import parse_categories
from candor.matrix.search.service import Outcome, Result, SearchService

router = APIRouter(prefix=CLIENT_PREFIX)

SearchDep = Annotated[SearchService, Depends(Provided(SearchService))]
RelationsDep = Annotated[RelationsService, Depends(Provided(RelationsService))]


@router.post("/search")
async def search(
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    service: SearchDep,
    relations: RelationsDep,
    next_batch: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Full-text search of the requester's rooms (only the `room_events` category exists)."""
    criteria = parse_categories(body.get("search_categories"))
    if criteria is None:
        return json_response({"search_categories": {}})
    outcome = await service.search(requester, criteria, next_batch)
    timeline: list[JsonDict] = []  # the results and their context, not the rooms' state
    room_events = _room_events(outcome, requester, timeline)
    await relations.bundle(requester, timeline)
    return json_response({"search_categories": {"room_events": room_events}})


def _client_event(ev: StoredEvent, outcome: Outcome, requester: Requester) -> JsonDict:
    """A served event, in the format /messages serves it."""
    return serialize_event(ev, now_ms=outcome.read_ms, requester_device=requester.device)


def _result(
    result: Result, outcome: Outcome, requester: Requester, timeline: list[JsonDict]
) -> JsonDict:
    event = _client_event(result.event, outcome, requester)
    timeline.append(event)
    out: JsonDict = {"rank": result.rank, "result": event}
    context = result.context
    if context is not None:
        before = [_client_event(e, outcome, requester) for e in context.before]
        after = [_client_event(e, outcome, requester) for e in context.after]
        timeline.extend(before + after)
        out["context"] = {
            "events_before": before,
            "events_after": after,
            "start": context.start,
            "end": context.end,
            "profile_info": context.profiles,
        }
    return out


def _room_events(outcome: Outcome, requester: Requester, timeline: list[JsonDict]) -> JsonDict:
    out: JsonDict = {
        "count": outcome.count,
        "highlights": outcome.highlights,
        "results": [_result(r, outcome, requester, timeline) for r in outcome.results],
    }
    if outcome.next_batch is not None:
        out["next_batch"] = outcome.next_batch
    if outcome.state is not None:
        out["state"] = {
            room_id: [_client_event(e, outcome, requester) for e in events]
            for room_id, events in outcome.state.items()
        }
    if outcome.groups:
        groups: dict[str, JsonDict] = {}
        for key, by_value in outcome.groups.items():
            groups[key] = {}
            for value, group in by_value.items():
                entry: JsonDict = {"order": group.order, "results": group.event_ids}
                if outcome.next_batch is not None:
                    entry["next_batch"] = outcome.next_batch
                groups[key][value] = entry
        out["groups"] = groups
    return out
