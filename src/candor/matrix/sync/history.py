"""Reading a room's history around a point: /context, /timestamp_to_event, an event by id
alone (the deprecated `GET /events/{eventId}`) and a room's `/initialSync`.

Why beside /messages (`messages.py`): each answers with pages of the same timeline under
the same history-visibility rule, and hands out /messages' pagination tokens, so they
share its paging (`paging.py`) and tokens (`tokens.py`). Every read is by position
through an index (the event's own row, a page on each side, each state key's version at a
position, a timestamp range), so none costs more in a room of 100k events than in one of
1k (`bench/history.py --context`, the plan tests in `tests/matrix/sync/`).
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.ids import RoomID, parse_event_id
from candor.matrix.constants import HistoryVisibility, Membership
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import EventFilter
from candor.matrix.events.model import StoredEvent
from candor.matrix.requester import Requester
from candor.matrix.rooms.reads import load_visibility
from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.sync import repository as repo
from candor.matrix.sync.paging import visible_page as visible_page_asc
from candor.matrix.sync.paging import visible_page_desc
from candor.matrix.sync.tokens import page_token
from candor.store.db import Database

# /context's `limit` is the sum of both sides; as /messages, at most a thousand.
MAX_CONTEXT_LIMIT = 1000
# A room's /initialSync: the newest messages, as many as Synapse sends.
INITIAL_SYNC_MESSAGES = 20
# timestamp_to_event reads candidates in chunks: the first is the answer unless the
# requester may not see it (history visibility), in which case the next ones are tried.
_TS_CHUNK = 50


@dataclass(frozen=True, slots=True)
class Context:
    event: StoredEvent
    before: list[StoredEvent]  # newest first, as the spec orders `events_before`
    after: list[StoredEvent]  # oldest first
    start: str
    end: str
    state: list[StoredEvent]
    read_ms: int


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    """A room's `/initialSync`: its newest visible messages and its state at their end."""

    room_id: str
    membership: str | None  # None when peeking into a world-readable room
    events: list[StoredEvent]  # oldest first
    start: str
    end: str
    state: list[StoredEvent]
    read_ms: int


async def _state_at(
    conn: AsyncConnection, room_id: str, pos: int, members: set[str] | None
) -> list[StoredEvent]:
    positions = await repo.list_state_positions_at(
        conn, room_id, pos, sorted(members) if members is not None else None
    )
    return await events_repo.list_events_at(conn, positions)


class HistoryService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def read_ms(self) -> int:
        """When a read is answered: a served event's `unsigned.age` counts up to it."""
        return self._clock.now_ms()

    async def context(
        self,
        requester: Requester,
        room_id: str,
        event_id: str,
        limit: int,
        flt: EventFilter,
        lazy_load_members: bool,
    ) -> Context:
        """The event, up to `limit` visible events around it (half before, the rest after),
        and the room state at the last one; the filter applies to all but the event."""
        room_id = str(RoomID.parse(room_id))
        event_id = parse_event_id(event_id)
        if limit < 0:
            raise InvalidParam("limit must not be negative")
        limit = min(limit, MAX_CONTEXT_LIMIT)
        limit = min(limit, flt.limit) if flt.limit is not None else limit
        before_limit = limit // 2
        after_limit = limit - before_limit
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            ev = await events_repo.get_event(conn, event_id)
            # One answer whether the event is missing, elsewhere or hidden: a 404 must not
            # tell a non-member that an event id exists.
            if ev is None or ev.room_id != room_id or not vis.is_visible(ev.stream_pos):
                raise NotFound("Event not found")
            before: list[StoredEvent] = []
            after: list[StoredEvent] = []
            if before_limit:
                before, _ = await visible_page_desc(
                    conn, room_id, vis, flt, 0, ev.stream_pos - 1, before_limit
                )
            if after_limit:
                current = await events_repo.get_stream_position(conn)
                after, _ = await visible_page_asc(
                    conn, room_id, vis, flt, ev.stream_pos, current, after_limit, newest=False
                )
            last = after[-1] if after else ev
            members = None
            if lazy_load_members:
                members = {e.sender for e in (*before, ev, *after)}
            state = await _state_at(conn, room_id, last.stream_pos, members)
        return Context(
            event=ev,
            before=before,
            after=after,
            # /messages' tokens are gaps: dir=b from `start` reads what precedes the oldest
            # event returned, dir=f from `end` what follows the newest.
            start=page_token((before[-1] if before else ev).stream_pos - 1),
            end=page_token(last.stream_pos),
            state=[e for e in state if flt.allows(e)],
            read_ms=self._clock.now_ms(),
        )

    async def closest_event(
        self, requester: Requester, room_id: str, ts: int, direction: str
    ) -> StoredEvent:
        """The visible event nearest `ts` at or after it (`f`) or at or before it (`b`)."""
        room_id = str(RoomID.parse(room_id))
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        forward = direction == "f"
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            if not vis.is_visible_at_all():
                raise Forbidden("You are not allowed to access this room")
            # A cursor just outside `ts`: forwards everything with (ts', pos) > (ts, -1).
            cursor = (ts, -1 if forward else 2**63 - 1)
            while True:
                chunk = await repo.list_events_by_timestamp(
                    conn, room_id, ts=cursor[0], pos=cursor[1], forward=forward, limit=_TS_CHUNK
                )
                for pos, _event_id, _ts in chunk:
                    if vis.is_visible(pos):
                        found = await events_repo.list_events_at(conn, [pos])
                        return found[0]
                if len(chunk) < _TS_CHUNK:
                    raise NotFound("No event found")
                cursor = (chunk[-1][2], chunk[-1][0])

    async def event_by_id(self, requester: Requester, event_id: str) -> StoredEvent:
        """An event by id alone, if the requester may see it: the room is the event's."""
        event_id = parse_event_id(event_id)
        async with self._db.read() as conn:
            ev = await events_repo.get_event(conn, event_id)
            if ev is not None:
                vis = await load_visibility(conn, ev.room_id, requester.user_id)
                if vis.is_visible(ev.stream_pos):
                    return ev
        raise NotFound("Event not found")

    async def room_initial_sync(self, requester: Requester, room_id: str) -> RoomSnapshot:
        """A member's (or a world-readable room's peeker's) view of the room: the newest
        visible messages and the state at their end; a former member's ends where they left."""
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            upto, membership = await _initial_sync_end(conn, vis)
            events, _ = await visible_page_desc(
                conn, room_id, vis, EventFilter(), 0, upto, INITIAL_SYNC_MESSAGES
            )
            events.reverse()
            state = await _state_at(conn, room_id, upto, None)
        return RoomSnapshot(
            room_id=room_id,
            membership=membership,
            events=events,
            start=page_token((events[0].stream_pos if events else upto + 1) - 1),
            end=page_token(upto),
            state=state,
            read_ms=self._clock.now_ms(),
        )


async def _initial_sync_end(
    conn: AsyncConnection, vis: VisibilityContext
) -> tuple[int, str | None]:
    """Where the requester's view of the room ends, and their membership (as Synapse and
    `/members` decide): now for a member; where they left for a former member; now, with
    no membership, for a peeker into a room that is world-readable now; else 403."""
    if vis.memberships:
        pos, membership = vis.memberships[-1]
        if membership == Membership.JOIN:
            return await events_repo.get_stream_position(conn), membership
        was_joined = any(m == Membership.JOIN for _, m in vis.memberships)
        if membership in (Membership.LEAVE, Membership.BAN) and was_joined:
            return pos, membership
    if vis.visibilities and vis.visibilities[-1][1] == HistoryVisibility.WORLD_READABLE:
        return await events_repo.get_stream_position(conn), None
    raise Forbidden("You are not allowed to access this room")
