"""Room endpoints: createRoom, membership, state, send, redact, event, members, receipts,
aliases and the published room directory.

https://spec.matrix.org/v1.11/client-server-api/#rooms
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.auth import RequesterDep
from candor.matrix.errors import BadJson
from candor.matrix.events.model import serialize_event
from candor.matrix.http import (
    CLIENT_PREFIX,
    Provided,
    empty_response,
    json_response,
    room_id_param,
    user_id_param,
)
from candor.matrix.relations.service import RelationsService
from candor.matrix.rooms.aliases import RoomAliasesService
from candor.matrix.rooms.directory import RoomDirectoryService, RoomQuery
from candor.matrix.rooms.reads import RoomReadsService
from candor.matrix.rooms.receipts import ReceiptsService
from candor.matrix.rooms.schemas import (
    AliasBody,
    CreateRoomBody,
    KnockBody,
    MembershipBody,
    PublicRoomsBody,
    ReadMarkersBody,
    ReasonBody,
    TypingBody,
    UpgradeBody,
    VisibilityBody,
)
from candor.matrix.rooms.service import RoomsService
from candor.matrix.rooms.spaces import HierarchyQuery

router = APIRouter(prefix=CLIENT_PREFIX)
# The spaces, room summary and mutual rooms APIs are served under /v1 only, as specified.
v1_router = APIRouter(prefix="/_matrix/client/v1")


RoomsDep = Annotated[RoomsService, Depends(Provided(RoomsService))]
RoomReadsDep = Annotated[RoomReadsService, Depends(Provided(RoomReadsService))]
ReceiptsDep = Annotated[ReceiptsService, Depends(Provided(ReceiptsService))]
AliasesDep = Annotated[RoomAliasesService, Depends(Provided(RoomAliasesService))]
DirectoryDep = Annotated[RoomDirectoryService, Depends(Provided(RoomDirectoryService))]
OptionalReason = Annotated[ReasonBody | None, Body()]
# The spec's enum for /members' filters: another value is a 400, not an empty answer.
Membership = Literal["join", "invite", "knock", "leave", "ban"]


@router.put("/rooms/{room_id}/send/{event_type}/{txn_id}")
async def send(
    room_id: str,
    event_type: str,
    txn_id: str,
    content: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    rooms: RoomsDep,
) -> Response:
    """Idempotent per (device, txn_id): a retry returns the first event's id."""
    event_id = await rooms.send(requester, room_id_param(room_id), event_type, txn_id, content)
    return json_response({"event_id": event_id})


@router.post("/createRoom")
async def create_room(body: CreateRoomBody, requester: RequesterDep, rooms: RoomsDep) -> Response:
    return json_response({"room_id": await rooms.create_room(requester, body)})


@router.post("/join/{room_id_or_alias}")
async def join(
    room_id_or_alias: str, requester: RequesterDep, rooms: RoomsDep, body: OptionalReason = None
) -> Response:
    return json_response({"room_id": await rooms.join(requester, room_id_or_alias)})


@router.post("/rooms/{room_id}/join")
async def join_room(
    room_id: str, requester: RequesterDep, rooms: RoomsDep, body: OptionalReason = None
) -> Response:
    return json_response({"room_id": await rooms.join(requester, room_id_param(room_id))})


@router.post("/knock/{room_id_or_alias}")
async def knock(
    room_id_or_alias: str,
    requester: RequesterDep,
    rooms: RoomsDep,
    body: Annotated[KnockBody | None, Body()] = None,
    via: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> Response:
    """`via` (and the older `server_name`) is not used: Candor knows only its own rooms."""
    room_id = await rooms.knock(requester, room_id_or_alias, body.reason if body else None)
    return json_response({"room_id": room_id})


@router.post("/rooms/{room_id}/upgrade")
async def upgrade(
    room_id: str, body: UpgradeBody, requester: RequesterDep, rooms: RoomsDep
) -> Response:
    new_room = await rooms.upgrade(requester, room_id_param(room_id), body.new_version)
    return json_response({"replacement_room": new_room})


@router.post("/rooms/{room_id}/leave")
async def leave(
    room_id: str, requester: RequesterDep, rooms: RoomsDep, body: OptionalReason = None
) -> Response:
    await rooms.leave(requester, room_id_param(room_id), body.reason if body else None)
    return empty_response()


@router.post("/rooms/{room_id}/forget")
async def forget(room_id: str, requester: RequesterDep, rooms: RoomsDep) -> Response:
    await rooms.forget(requester, room_id_param(room_id))
    return empty_response()


# invite, kick, ban and unban share one shape: `{"user_id", "reason"}` → `{}`.


@router.post("/rooms/{room_id}/invite")
async def invite(
    room_id: str, body: MembershipBody, requester: RequesterDep, rooms: RoomsDep
) -> Response:
    await rooms.invite(requester, room_id_param(room_id), user_id_param(body.user_id), body.reason)
    return empty_response()


@router.post("/rooms/{room_id}/kick")
async def kick(
    room_id: str, body: MembershipBody, requester: RequesterDep, rooms: RoomsDep
) -> Response:
    await rooms.kick(requester, room_id_param(room_id), user_id_param(body.user_id), body.reason)
    return empty_response()


@router.post("/rooms/{room_id}/ban")
async def ban(
    room_id: str, body: MembershipBody, requester: RequesterDep, rooms: RoomsDep
) -> Response:
    await rooms.ban(requester, room_id_param(room_id), user_id_param(body.user_id), body.reason)
    return empty_response()


@router.post("/rooms/{room_id}/unban")
async def unban(
    room_id: str, body: MembershipBody, requester: RequesterDep, rooms: RoomsDep
) -> Response:
    await rooms.unban(requester, room_id_param(room_id), user_id_param(body.user_id), body.reason)
    return empty_response()


@router.get("/joined_rooms")
async def joined_rooms(requester: RequesterDep, reads: RoomReadsDep) -> Response:
    return json_response({"joined_rooms": await reads.joined_rooms(requester)})


@router.get("/rooms/{room_id}/joined_members")
async def joined_members(room_id: str, requester: RequesterDep, reads: RoomReadsDep) -> Response:
    return json_response({"joined": await reads.joined_members(requester, room_id_param(room_id))})


@router.get("/rooms/{room_id}/members")
async def members(
    room_id: str,
    requester: RequesterDep,
    reads: RoomReadsDep,
    membership: Annotated[Membership | None, Query()] = None,
    not_membership: Annotated[Membership | None, Query()] = None,
    at: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    events = await reads.members(requester, room_id_param(room_id), membership, not_membership)
    now = reads.read_ms()
    return json_response({"chunk": [serialize_event(e, now_ms=now) for e in events]})


@router.get("/rooms/{room_id}/state")
async def get_state(room_id: str, requester: RequesterDep, reads: RoomReadsDep) -> Response:
    events = await reads.get_state(requester, room_id_param(room_id))
    now = reads.read_ms()
    return json_response([serialize_event(e, now_ms=now) for e in events])


@router.get("/rooms/{room_id}/state/{event_type}")
async def get_state_event_empty_key(
    room_id: str, event_type: str, requester: RequesterDep, reads: RoomReadsDep
) -> Response:
    return json_response(
        await reads.get_state_event(requester, room_id_param(room_id), event_type, "")
    )


@router.get("/rooms/{room_id}/state/{event_type}/{state_key:path}")
async def get_state_event(
    room_id: str, event_type: str, state_key: str, requester: RequesterDep, reads: RoomReadsDep
) -> Response:
    return json_response(
        await reads.get_state_event(requester, room_id_param(room_id), event_type, state_key)
    )


@router.put("/rooms/{room_id}/state/{event_type}")
async def set_state_empty_key(
    room_id: str,
    event_type: str,
    content: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    rooms: RoomsDep,
) -> Response:
    event_id = await rooms.set_state(requester, room_id_param(room_id), event_type, "", content)
    return json_response({"event_id": event_id})


@router.put("/rooms/{room_id}/state/{event_type}/{state_key:path}")
async def set_state(
    room_id: str,
    event_type: str,
    state_key: str,
    content: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    rooms: RoomsDep,
) -> Response:
    event_id = await rooms.set_state(
        requester, room_id_param(room_id), event_type, state_key, content
    )
    return json_response({"event_id": event_id})


@router.put("/rooms/{room_id}/redact/{event_id}/{txn_id}")
async def redact(
    room_id: str,
    event_id: str,
    txn_id: str,
    requester: RequesterDep,
    rooms: RoomsDep,
    body: OptionalReason = None,
) -> Response:
    redaction_id = await rooms.redact(
        requester, room_id_param(room_id), event_id, txn_id, body.reason if body else None
    )
    return json_response({"event_id": redaction_id})


@router.get("/rooms/{room_id}/event/{event_id}")
async def get_event(
    room_id: str,
    event_id: str,
    requester: RequesterDep,
    reads: RoomReadsDep,
    relations: Annotated[RelationsService, Depends(Provided(RelationsService))],
) -> Response:
    ev = await reads.get_event(requester, room_id, event_id)
    served = serialize_event(ev, now_ms=reads.read_ms(), requester_device=requester.device)
    await relations.bundle(requester, [served])  # unsigned.m.relations (relations/bundles.py)
    return json_response(served)


@router.put("/rooms/{room_id}/typing/{user_id}")
async def typing(
    room_id: str, user_id: str, body: TypingBody, requester: RequesterDep, receipts: ReceiptsDep
) -> Response:
    await receipts.set_typing(
        requester, room_id, user_id_param(user_id), body.typing, body.timeout or 30000
    )
    return empty_response()


@router.post("/rooms/{room_id}/receipt/{receipt_type}/{event_id}")
async def receipt(
    room_id: str,
    receipt_type: str,
    event_id: str,
    requester: RequesterDep,
    receipts: ReceiptsDep,
    body: Annotated[JsonDict | None, Body()] = None,
) -> Response:
    thread = (body or {}).get("thread_id")
    if thread is not None and not isinstance(thread, str):
        raise BadJson("thread_id must be a string")
    await receipts.send_receipt(requester, room_id, receipt_type, event_id, thread)
    return empty_response()


@router.post("/rooms/{room_id}/read_markers")
async def read_markers(
    room_id: str, body: ReadMarkersBody, requester: RequesterDep, receipts: ReceiptsDep
) -> Response:
    for receipt_type, event_id in (
        ("m.fully_read", body.fully_read),
        ("m.read", body.read),
        ("m.read.private", body.read_private),
    ):
        if event_id is not None:
            await receipts.send_receipt(requester, room_id, receipt_type, event_id, None)
    return empty_response()


@router.get("/directory/room/{alias}")
async def resolve_alias(alias: str, aliases: AliasesDep) -> Response:
    room_id = await aliases.resolve_room(alias if alias.startswith("#") else "#" + alias)
    return json_response({"room_id": room_id, "servers": [aliases.server_name]})


@router.put("/directory/room/{alias}")
async def set_alias(
    alias: str, body: AliasBody, requester: RequesterDep, aliases: AliasesDep
) -> Response:
    await aliases.set_alias(requester, alias, body.room_id)
    return empty_response()


@router.delete("/directory/room/{alias}")
async def delete_alias(alias: str, requester: RequesterDep, aliases: AliasesDep) -> Response:
    await aliases.delete_alias(requester, alias)
    return empty_response()


@router.get("/rooms/{room_id}/aliases")
async def room_aliases(room_id: str, requester: RequesterDep, aliases: AliasesDep) -> Response:
    return json_response({"aliases": await aliases.local_aliases(requester, room_id)})


# --- the published room directory ------------------------------------------------------


@router.get("/directory/list/room/{room_id}")
async def get_room_visibility(room_id: str, directory: DirectoryDep) -> Response:
    """No token, as the spec has it: whether a room is listed is public."""
    return json_response({"visibility": await directory.visibility(room_id)})


@router.put("/directory/list/room/{room_id}")
async def set_room_visibility(
    room_id: str, body: VisibilityBody, requester: RequesterDep, directory: DirectoryDep
) -> Response:
    await directory.set_visibility(requester, room_id, body.visibility)
    return empty_response()


@router.get("/publicRooms")
async def public_rooms(
    requester: RequesterDep,
    directory: DirectoryDep,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    server: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    """A token is required (as Synapse does by default): the list is for this server's people."""
    return json_response(await directory.public_rooms(server, RoomQuery(limit, since)))


@router.post("/publicRooms")
async def public_rooms_filtered(
    body: PublicRoomsBody,
    requester: RequesterDep,
    directory: DirectoryDep,
    server: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    flt = body.filter
    query = RoomQuery(
        limit=body.limit,
        since=body.since,
        search_term=flt.generic_search_term if flt else None,
        room_types=tuple(flt.room_types) if flt and flt.room_types is not None else None,
        third_party_instance_id=body.third_party_instance_id,
        include_all_networks=body.include_all_networks,
    )
    return json_response(await directory.public_rooms(server, query))


# --- spaces, room summaries, mutual rooms (/_matrix/client/v1) ---------------------------


@v1_router.get("/rooms/{room_id}/hierarchy")
async def hierarchy(
    room_id: str,
    requester: RequesterDep,
    reads: RoomReadsDep,
    suggested_only: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    max_depth: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> Response:
    query = HierarchyQuery(suggested_only, limit, max_depth, from_)
    return json_response(await reads.hierarchy(requester, room_id_param(room_id), query))


@v1_router.get("/room_summary/{room_id_or_alias}")
async def room_summary(
    room_id_or_alias: str,
    requester: RequesterDep,
    reads: RoomReadsDep,
    aliases: AliasesDep,
    via: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> Response:
    """A token is required (the spec lets a server also answer without one; Candor does
    not). An unknown alias, an unknown room and a hidden one are the same 404."""
    room_id = await aliases.resolve_room(room_id_or_alias)
    return json_response(await reads.room_summary(requester, room_id))


@v1_router.get("/mutual_rooms")
async def mutual_rooms(
    requester: RequesterDep,
    reads: RoomReadsDep,
    user_id: Annotated[str, Query(max_length=255)],
    from_: Annotated[str | None, Query(alias="from", max_length=255)] = None,
) -> Response:
    return json_response(await reads.mutual_rooms(requester, user_id, from_))
