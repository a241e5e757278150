"""Relations and threads endpoints (client-server API v1).

https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv1roomsroomidrelationseventid
https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv1roomsroomidthreads
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import Provided, json_response
from candor.matrix.relations.service import RelationsQuery, RelationsService

router = APIRouter(prefix="/_matrix/client/v1")

RelationsDep = Annotated[RelationsService, Depends(Provided(RelationsService))]
FromQuery = Annotated[str | None, Query(alias="from", max_length=64)]
ToQuery = Annotated[str | None, Query(max_length=64)]
LimitQuery = Annotated[int | None, Query(ge=-(2**31), le=2**31)]
DirQuery = Annotated[str, Query(max_length=8)]
RecurseQuery = Annotated[bool | None, Query()]


@dataclass(frozen=True, slots=True)
class Paging:
    """The query parameters the three `/relations` routes share."""

    from_: str | None
    to: str | None
    limit: int | None
    dir: str
    recurse: bool | None


def _paging(
    from_: FromQuery = None,
    to: ToQuery = None,
    limit: LimitQuery = None,
    dir: DirQuery = "b",
    recurse: RecurseQuery = None,
) -> Paging:
    return Paging(from_, to, limit, dir, recurse)


PagingDep = Annotated[Paging, Depends(_paging)]


async def _page(
    requester: RequesterDep,
    relations: RelationsService,
    room_id: str,
    event_id: str,
    rel_type: str | None,
    event_type: str | None,
    p: Paging,
) -> Response:
    q = RelationsQuery(
        room_id, event_id, rel_type, event_type, p.from_, p.to, p.limit, p.dir, p.recurse
    )
    return json_response(await relations.relations(requester, q))


@router.get("/rooms/{room_id}/relations/{event_id}")
async def relations_of(
    room_id: str, event_id: str, requester: RequesterDep, relations: RelationsDep, p: PagingDep
) -> Response:
    return await _page(requester, relations, room_id, event_id, None, None, p)


@router.get("/rooms/{room_id}/relations/{event_id}/{rel_type}")
async def relations_of_type(
    room_id: str,
    event_id: str,
    rel_type: str,
    requester: RequesterDep,
    relations: RelationsDep,
    p: PagingDep,
) -> Response:
    return await _page(requester, relations, room_id, event_id, rel_type, None, p)


@router.get("/rooms/{room_id}/relations/{event_id}/{rel_type}/{event_type}")
async def relations_of_type_and_event_type(
    room_id: str,
    event_id: str,
    rel_type: str,
    event_type: str,
    requester: RequesterDep,
    relations: RelationsDep,
    p: PagingDep,
) -> Response:
    return await _page(requester, relations, room_id, event_id, rel_type, event_type, p)


@router.get("/rooms/{room_id}/threads")
async def threads(
    room_id: str,
    requester: RequesterDep,
    relations: RelationsDep,
    include: Annotated[str, Query(max_length=32)] = "all",
    from_: FromQuery = None,
    limit: LimitQuery = None,
) -> Response:
    return json_response(await relations.threads(requester, room_id, include, from_, limit))
