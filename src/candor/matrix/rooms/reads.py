"""Reading a room: its state, its members and single events, as the requester may see them.

Why apart from the write path (`service.py`): reads never go through the event persister;
each opens one read snapshot and applies history visibility. `load_visibility` lives here
because /sync and /messages apply the same rule to their timelines.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.core.ids import RoomID, parse_event_id
from candor.matrix.constants import EventType, HistoryVisibility, Membership
from candor.matrix.errors import Forbidden, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.requester import Requester
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms import spaces
from candor.matrix.rooms.spaces import HierarchyQuery
from candor.matrix.rooms.visibility import VisibilityContext
from candor.store.db import Database


async def load_visibility(conn: AsyncConnection, room_id: str, user_id: str) -> VisibilityContext:
    members = await events_repo.list_state_history(conn, room_id, EventType.MEMBER, user_id)
    vis = await events_repo.list_state_history(conn, room_id, EventType.HISTORY_VISIBILITY, "")
    return VisibilityContext(
        memberships=[(p, str(e.content.get("membership", Membership.LEAVE))) for p, e in members],
        visibilities=[
            (p, str(e.content.get("history_visibility", HistoryVisibility.SHARED))) for p, e in vis
        ],
    )


async def load_visibilities(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str
) -> dict[str, VisibilityContext]:
    """`load_visibility` of many rooms in two queries (an initial /sync)."""
    members = await events_repo.list_state_histories(conn, room_ids, EventType.MEMBER, user_id)
    vis = await events_repo.list_state_histories(conn, room_ids, EventType.HISTORY_VISIBILITY, "")
    return {
        room_id: VisibilityContext(
            memberships=[
                (p, str(c.get("membership", Membership.LEAVE))) for p, c in members[room_id]
            ],
            visibilities=[
                (p, str(c.get("history_visibility", HistoryVisibility.SHARED)))
                for p, c in vis[room_id]
            ],
        )
        for room_id in room_ids
    }


class RoomReadsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def read_ms(self) -> int:
        """When a read is answered: a served event's `unsigned.age` counts up to it."""
        return self._clock.now_ms()

    async def access_room(
        self, conn: AsyncConnection, requester: Requester, room_id: str
    ) -> VisibilityContext:
        """Fetch the requester's view of a room; the same error whether missing or private."""
        ctx = await load_visibility(conn, room_id, requester.user_id)
        if not ctx.is_visible_at_all():
            raise Forbidden("You are not allowed to access this room")
        return ctx

    async def get_event(self, requester: Requester, room_id: str, event_id: str) -> StoredEvent:
        room_id = str(RoomID.parse(room_id))
        event_id = parse_event_id(event_id)
        async with self._db.read() as conn:
            vis = await self.access_room(conn, requester, room_id)
            ev = await events_repo.get_event(conn, event_id)
        if ev is None or ev.room_id != room_id or not vis.is_visible(ev.stream_pos):
            raise NotFound("Event not found")
        return ev

    async def _state_position(
        self, conn: AsyncConnection, requester: Requester, room_id: str
    ) -> int:
        """Members see current state; former members see the state when they left."""
        member = await repo.get_membership(conn, room_id, requester.user_id)
        if member is None:
            raise Forbidden("You are not allowed to access this room")
        if member.membership == Membership.JOIN:
            return await events_repo.get_stream_position(conn)
        if member.membership in (Membership.LEAVE, Membership.BAN):
            vis = await load_visibility(conn, room_id, requester.user_id)
            if any(m == Membership.JOIN for _, m in vis.memberships):
                return member.stream_pos
        raise Forbidden("You are not allowed to access this room")

    async def get_state(self, requester: Requester, room_id: str) -> list[StoredEvent]:
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            pos = await self._state_position(conn, requester, room_id)
            return await events_repo.list_state_at(conn, room_id, pos + 1)

    async def get_state_event(
        self, requester: Requester, room_id: str, event_type: str, state_key: str
    ) -> JsonDict:
        for ev in await self.get_state(requester, room_id):
            if ev.type == event_type and ev.state_key == state_key:
                return ev.content
        raise NotFound("Event not found")

    async def hierarchy(
        self, requester: Requester, room_id: str, query: HierarchyQuery
    ) -> JsonDict:
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            return await spaces.hierarchy(conn, requester.user_id, room_id, query)

    async def room_summary(self, requester: Requester, room_id: str) -> JsonDict:
        """`room_id` is resolved already (an alias through `RoomAliasesService`)."""
        async with self._db.read() as conn:
            return await spaces.room_summary(conn, requester.user_id, room_id)

    async def mutual_rooms(self, requester: Requester, other: str, since: str | None) -> JsonDict:
        async with self._db.read() as conn:
            return await spaces.mutual_rooms(conn, requester.user_id, other, since)

    async def joined_rooms(self, requester: Requester) -> list[str]:
        async with self._db.read() as conn:
            return await repo.list_joined_rooms(conn, requester.user_id)

    async def members(
        self,
        requester: Requester,
        room_id: str,
        membership: str | None,
        not_membership: str | None,
    ) -> list[StoredEvent]:
        events = await self.get_state(requester, room_id)
        out = []
        for ev in events:
            if ev.type != EventType.MEMBER:
                continue
            m = ev.content.get("membership")
            if membership is not None and m != membership:
                continue
            if not_membership is not None and m == not_membership:
                continue
            out.append(ev)
        return out

    async def joined_members(self, requester: Requester, room_id: str) -> JsonDict:
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            member = await repo.get_membership(conn, room_id, requester.user_id)
            if member is None or member.membership != Membership.JOIN:
                raise Forbidden("You are not in this room")
            events = await events_repo.list_current_state(conn, room_id, [EventType.MEMBER])
        joined: JsonDict = {}
        for ev in events:
            if ev.content.get("membership") == Membership.JOIN and ev.state_key is not None:
                # The spec's RoomMember has string fields, absent when the member set none.
                names = {"display_name": "displayname", "avatar_url": "avatar_url"}
                joined[ev.state_key] = {
                    key: ev.content[field]
                    for key, field in names.items()
                    if isinstance(ev.content.get(field), str)
                }
        return joined
