"""/messages: one page of a room's history, backwards or forwards from a pagination token.

Why apart from `/sync` (`service.py`): a page is one room, one direction and one
visibility check, with no long-poll and no other stream; it shares only the paging
(`paging.py`) and the token format (`tokens.py`) with the /sync timeline.
"""

from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.ids import RoomID
from candor.matrix.errors import Forbidden, InvalidParam
from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import EventFilter
from candor.matrix.events.model import StoredEvent
from candor.matrix.requester import Requester
from candor.matrix.rooms.reads import load_visibility
from candor.matrix.sync.paging import visible_page, visible_page_desc
from candor.matrix.sync.tokens import page_token, parse_page_token
from candor.store.db import Database


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]
    start: str
    end: str | None
    state: list[StoredEvent]
    # When the page was read: events' `unsigned.age` is counted up to it.
    read_ms: int


class MessagesService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def messages(
        self,
        requester: Requester,
        room_id: str,
        from_token: str | None,
        to_token: str | None,
        direction: str,
        limit: int,
        flt: EventFilter,
    ) -> Page:
        room_id = str(RoomID.parse(room_id))
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        limit = min(max(limit, 0), 1000)
        limit = min(limit, flt.limit) if flt.limit is not None else limit
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            if not vis.is_visible_at_all():
                raise Forbidden("You are not allowed to access this room")
            current = await events_repo.get_stream_position(conn)
            start = current if from_token is None and direction == "b" else 0
            if from_token is not None:
                start = min(parse_page_token(from_token), current)
            bound = parse_page_token(to_token) if to_token is not None else None
            if direction == "b":
                lower = bound if bound is not None else 0
                events, more = await visible_page_desc(conn, room_id, vis, flt, lower, start, limit)
                end = page_token(events[-1].stream_pos - 1) if more and events else None
            else:
                upper = min(bound, current) if bound is not None else current
                events, more = await visible_page(
                    conn, room_id, vis, flt, start, upper, limit, newest=False
                )
                end = page_token(events[-1].stream_pos) if more and events else None
            state: list[StoredEvent] = []
        return Page(events, page_token(start), end, state, self._clock.now_ms())
