"""The published room directory: which rooms `/publicRooms` lists, and who may list one.

Why apart from the write path (`service.py`): publishing a room changes no room state
(it is a flag on the room's row, as in Synapse), and listing is a read of many rooms'
summaries. A room is listed when it is published (`PUT /directory/list/room`, or
`createRoom` with `visibility: public`) and anyone may join or read it; who may publish
follows Synapse: a server administrator, or a joined member with the power to set the
room's canonical alias (docs/api.md, "Room directory").
https://spec.matrix.org/v1.11/client-server-api/#published-room-directory
"""

import re
from dataclasses import dataclass
from typing import Final

from candor.core.canonical_json import JsonDict
from candor.core.ids import RoomID
from candor.matrix.accounts.search_terms import normalise
from candor.matrix.constants import EventType, HistoryVisibility, JoinRule, Membership
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.requester import Requester
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.repository import ListedRoom
from candor.store.db import Database

VISIBILITIES: Final = ("public", "private")
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 500
# The state a listed room is summarised from.
SUMMARY_TYPES: Final = (
    EventType.CREATE,
    EventType.NAME,
    EventType.TOPIC,
    EventType.AVATAR,
    EventType.CANONICAL_ALIAS,
    EventType.GUEST_ACCESS,
)
_TOKEN = re.compile(r"o(0|[1-9][0-9]{0,8})")
_STATE_CHUNK = 500  # rooms whose state one query reads


@dataclass(frozen=True, slots=True)
class RoomQuery:
    """What a client asked `/publicRooms` for."""

    limit: int | None = None
    since: str | None = None
    search_term: str | None = None
    # None: any type; a None inside: rooms without a type.
    room_types: tuple[str | None, ...] | None = None
    third_party_instance_id: str | None = None
    include_all_networks: bool = False


def _text(content: JsonDict, key: str) -> str | None:
    value = content.get(key)
    return value if isinstance(value, str) and value else None


def summarise(room: ListedRoom, state: list[StoredEvent]) -> JsonDict:
    """A room's `PublishedRoomsChunk`: what its state says, only where well-formed."""
    by_type = {e.type: e.content for e in state if e.room_id == room.room_id}
    out: JsonDict = {
        "room_id": room.room_id,
        "num_joined_members": room.joined,
        "world_readable": room.history_visibility == HistoryVisibility.WORLD_READABLE,
        "guest_can_join": by_type.get(EventType.GUEST_ACCESS, {}).get("guest_access") == "can_join",
        "join_rule": room.join_rule or JoinRule.PUBLIC,
    }
    name = _text(by_type.get(EventType.NAME, {}), "name")
    topic = _text(by_type.get(EventType.TOPIC, {}), "topic")
    alias = _text(by_type.get(EventType.CANONICAL_ALIAS, {}), "alias")
    avatar = _text(by_type.get(EventType.AVATAR, {}), "url")
    room_type = _text(by_type.get(EventType.CREATE, {}), "type")
    if name is not None:
        out["name"] = name
    if topic is not None:
        out["topic"] = topic
    if alias is not None and alias.startswith("#"):
        out["canonical_alias"] = alias
    if avatar is not None and avatar.startswith("mxc://"):
        out["avatar_url"] = avatar
    if room_type is not None:
        out["room_type"] = room_type
    return out


def matches(summary: JsonDict, term: str | None, room_types: tuple[str | None, ...] | None) -> bool:
    """The filter of `POST /publicRooms`: a case-insensitive substring of the name, topic
    or canonical alias, and one of the room types (None standing for "no type")."""
    if room_types is not None and summary.get("room_type") not in room_types:
        return False
    if not term:
        return True
    return any(
        isinstance(summary.get(key), str) and term in normalise(str(summary[key]))
        for key in ("name", "topic", "canonical_alias")
    )


def parse_since(since: str | None) -> int:
    """A page token is `o<offset>`: the direction is only which token a client sends."""
    if since is None:
        return 0
    match = _TOKEN.fullmatch(since)
    if match is None:
        raise InvalidParam("Unknown pagination token")
    return int(match.group(1))


class RoomDirectoryService:
    def __init__(self, db: Database, persister: EventPersister, *, server_name: str) -> None:
        self._db = db
        self._persister = persister
        self._server_name = server_name

    async def visibility(self, room_id: str) -> str:
        """`GET /directory/list/room/{roomId}` (no token: the spec's)."""
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            rules = await repo.get_room_rules(conn, room_id)
        if rules is None:
            raise NotFound("Room not found")
        return "public" if rules.published else "private"

    async def set_visibility(self, requester: Requester, room_id: str, visibility: str) -> None:
        """Publish or unpublish; checked against the room's auth state in the persister,
        so a power change cannot slip between the check and the write."""
        room_id = str(RoomID.parse(room_id))
        if visibility not in VISIBILITIES:
            raise InvalidParam("visibility must be 'public' or 'private'")

        async def work(ctx: WriteContext) -> None:
            state = await ctx.auth_state(room_id)  # NotFound for an unknown room
            if not requester.is_admin:
                if state.membership(requester.user_id) != Membership.JOIN:
                    raise Forbidden("You are not in this room")
                needed = state.event_level(EventType.CANONICAL_ALIAS, True)
                if state.user_level(requester.user_id) < needed:
                    raise Forbidden("You may not change this room's place in the directory")
            await repo.set_published(ctx.conn, room_id, visibility == "public")

        await self._persister.run(work, savepoint=False)

    async def public_rooms(self, server: str | None, query: RoomQuery) -> JsonDict:
        """A page of the listed rooms (`PublicRoomsResponse`), most joined first."""
        if server is not None and server != self._server_name:
            raise InvalidParam("Candor does not federate: only this server's directory exists")
        if query.limit is not None and query.limit < 1:
            raise InvalidParam("limit must be at least 1")
        limit = min(query.limit or DEFAULT_PAGE, MAX_PAGE)
        offset = parse_since(query.since)
        if query.third_party_instance_id is not None and not query.include_all_networks:
            return {"chunk": [], "total_room_count_estimate": 0}  # no bridged networks
        term = normalise(query.search_term or "")
        filtered = bool(term) or query.room_types is not None
        async with self._db.read() as conn:
            listed = await repo.list_listed_rooms(conn)
            # Without a filter only the page's rooms need their state read.
            candidates = listed if filtered else listed[offset : offset + limit]
            state: list[StoredEvent] = []
            for i in range(0, len(candidates), _STATE_CHUNK):
                chunk = [r.room_id for r in candidates[i : i + _STATE_CHUNK]]
                state += await events_repo.list_current_state_of_rooms(conn, chunk, SUMMARY_TYPES)
        by_room: dict[str, list[StoredEvent]] = {}
        for ev in state:
            by_room.setdefault(ev.room_id, []).append(ev)
        summaries = [summarise(r, by_room.get(r.room_id, [])) for r in candidates]
        if filtered:
            summaries = [s for s in summaries if matches(s, term, query.room_types)]
            total = len(summaries)
            page = summaries[offset : offset + limit]
        else:
            total = len(listed)
            page = summaries
        out: JsonDict = {"chunk": page, "total_room_count_estimate": total}
        if offset + limit < total:
            out["next_batch"] = f"o{offset + limit}"
        if offset > 0:
            out["prev_batch"] = f"o{max(0, offset - limit)}"
        return out
