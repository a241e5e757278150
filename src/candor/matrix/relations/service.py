"""Reading relations and threads: GET /relations and GET /threads, and bundles on demand.

https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv1roomsroomidrelationseventid
and #get_matrixclientv1roomsroomidthreads. Each request is one read snapshot: the parent
(or the room) is checked against the requester's history visibility first, then one range
of the relations index gives the page (its cost does not depend on the room's length), then
the page's events and their bundles are read set-wise (`bundles.py`).

Pagination tokens are the /messages ones (`t{position}`, `sync/tokens.py`), so a /sync
`next_batch` or a /messages token is accepted too, as the spec allows. `recurse=true`
lists descendants three levels deep (`repository.MAX_DEPTH`, the spec's "at least 3"),
the filters applied at every level; `recursion_depth` says the depth whenever `recurse`
was given.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.core.ids import RoomID, parse_event_id
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import serialize_event
from candor.matrix.relations import repository as repo
from candor.matrix.relations.bundles import bundle_aggregations, bundle_served_rooms
from candor.matrix.requester import Requester
from candor.matrix.rooms.reads import load_visibility
from candor.matrix.sync.tokens import page_token, parse_page_token
from candor.store.db import Database

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
THREADS_INCLUDE = ("all", "participated")
_MAX_TYPE = 255


@dataclass(frozen=True, slots=True)
class RelationsQuery:
    """What a /relations request asks: the parent, the filters, the page."""

    room_id: str
    event_id: str
    rel_type: str | None = None
    event_type: str | None = None
    from_token: str | None = None
    to_token: str | None = None
    limit: int | None = None
    direction: str = "b"
    recurse: bool | None = None


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise InvalidParam("limit must be a positive integer")
    return min(limit, MAX_LIMIT)


class RelationsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def relations(self, requester: Requester, q: RelationsQuery) -> JsonDict:
        """One page of a parent's children (newest first unless `dir=f`)."""
        room_id = str(RoomID.parse(q.room_id))
        event_id = parse_event_id(q.event_id)
        if q.direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        for value in (q.rel_type, q.event_type):
            if value is not None and not 0 < len(value) <= _MAX_TYPE:
                raise InvalidParam("relType and eventType must be 1 to 255 characters")
        limit = _limit(q.limit)
        start = parse_page_token(q.from_token) if q.from_token is not None else None
        bound = parse_page_token(q.to_token) if q.to_token is not None else None
        now = self._clock.now_ms()
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            parent = await events_repo.get_event(conn, event_id)
            if parent is None or parent.room_id != room_id or not vis.is_visible(parent.stream_pos):
                raise NotFound("Event not found.")
            current = await events_repo.get_stream_position(conn)
            descending = q.direction == "b"
            if descending:
                upto = min(start, current) if start is not None else current
                after = bound if bound is not None else 0
            else:
                after = start if start is not None else 0
                upto = min(bound, current) if bound is not None else current
            positions = await repo.list_children(
                conn,
                room_id,
                event_id,
                rel_type=q.rel_type,
                event_type=q.event_type,
                after=after,
                upto=upto,
                descending=descending,
                limit=limit + 1,
                recurse=bool(q.recurse),
            )
            more = len(positions) > limit
            positions = positions[:limit]
            events = await events_repo.list_events_at(conn, positions)
            if descending:
                events.reverse()
            visible = [e for e in events if vis.is_visible(e.stream_pos)]
            chunk = [
                serialize_event(e, now_ms=now, requester_device=requester.device) for e in visible
            ]
            await bundle_aggregations(conn, requester.user_id, chunk, now_ms=now)
        body: JsonDict = {"chunk": chunk}
        if more and positions:
            last = positions[-1]
            body["next_batch"] = page_token(last - 1 if descending else last)
        if q.from_token is not None:
            body["prev_batch"] = q.from_token
        if q.recurse is not None:
            body["recursion_depth"] = repo.MAX_DEPTH if q.recurse else 1
        return body

    async def threads(
        self,
        requester: Requester,
        room_id: str,
        include: str,
        from_token: str | None,
        limit: int | None,
    ) -> JsonDict:
        """A room's thread roots, latest activity first; `participated`: the requester's."""
        room_id = str(RoomID.parse(room_id))
        if include not in THREADS_INCLUDE:
            raise InvalidParam("include must be 'all' or 'participated'")
        count = _limit(limit)
        start = parse_page_token(from_token) if from_token is not None else None
        now = self._clock.now_ms()
        async with self._db.read() as conn:
            vis = await load_visibility(conn, room_id, requester.user_id)
            if not vis.is_visible_at_all():
                raise Forbidden("You are not allowed to access this room")
            current = await events_repo.get_stream_position(conn)
            before = min(start, current) if start is not None else current
            participant = requester.user_id if include == "participated" else None
            threads = await repo.list_threads(
                conn, room_id, before=before, limit=count + 1, participant=participant
            )
            more = len(threads) > count
            threads = threads[:count]
            roots = {
                e.event_id: e
                for e in await events_repo.list_events_by_id(
                    conn, [t.root_event_id for t in threads]
                )
            }
            chunk = [
                serialize_event(
                    roots[t.root_event_id], now_ms=now, requester_device=requester.device
                )
                for t in threads
                if t.root_event_id in roots
                and roots[t.root_event_id].room_id == room_id
                and vis.is_visible(roots[t.root_event_id].stream_pos)
            ]
            await bundle_aggregations(conn, requester.user_id, chunk, now_ms=now)
        body: JsonDict = {"chunk": chunk}
        if more and threads:
            body["next_batch"] = page_token(threads[-1].latest_pos - 1)
        return body

    async def bundle(
        self, requester: Requester, events: Sequence[JsonDict], *, room_id: str | None = None
    ) -> None:
        """Add bundled aggregations to served events (an event without `room_id` is taken
        to be in `room_id`), in reads of their own: for an endpoint that has already
        serialized its page (/event, /messages, /context, /search). A page none of whose
        events has a bundled child costs one small read outside any snapshot."""
        by_room: dict[str, list[JsonDict]] = {}
        for ev in events:
            rid = ev.get("room_id", room_id)
            if isinstance(rid, str):
                by_room.setdefault(rid, []).append(ev)
        if by_room:
            await bundle_served_rooms(self._db, requester.user_id, by_room)
