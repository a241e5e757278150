"""The joined rooms of an initial (or `full_state`) /sync, read for all the rooms at once.

Why: read room by room, an initial sync costs about seven queries per room (visibility,
timeline, state, unread counts, summary), ~3 ms a room, 1.4 s for a person in 500 rooms.
Here each of those is one set-based query over all the rooms (`_CHUNK` at a time), each
still one index range per room, so a room's history length does not matter either.

The answer is the one `RoomsStream.joined` gives room by room, to the event: the newest
`limit + 1` events of each room are read unfiltered, and a room whose filter or history
visibility hides so many of them that the page cannot be decided from them takes the
room-by-room path (`None` here). The state before the timeline is the room's current
state with each key that changed at or after the timeline's start walked back through
`replaces_state` (rooms are linear on one server: that is the key's previous event).
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.push import facts as push_facts
from candor.matrix.push.facts import Unread
from candor.matrix.rooms import facts as rooms_facts
from candor.matrix.rooms.reads import load_visibilities
from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.sync.streams import RoomsStream, SyncWindow

_CHUNK = 500  # rooms per set-based query: bounds bound parameters and memory
_MAX_ROWS = 50_000  # timeline rows per query (a filter may ask for 1,000 events a room)
_MIN_FETCH = 10  # as `paging.visible_page_desc` reads at least this many


@dataclass(frozen=True, slots=True)
class InitialRoom:
    """A joined room's timeline and state (`body`), unread counts and summary."""

    body: JsonDict
    unread: Unread
    summary: JsonDict


class InitialRooms:
    def __init__(self, rooms: RoomsStream) -> None:
        self._rooms = rooms

    async def joined(
        self, conn: AsyncConnection, w: SyncWindow, room_ids: list[str]
    ) -> dict[str, InitialRoom]:
        """The rooms that could be built set-wise; a room absent takes the per-room path."""
        out: dict[str, InitialRoom] = {}
        fetch = max(self._rooms.timeline_limit(w) + 1, _MIN_FETCH)
        chunk = max(1, min(_CHUNK, _MAX_ROWS // fetch))
        for i in range(0, len(room_ids), chunk):
            out.update(await self._chunk(conn, w, room_ids[i : i + chunk]))
        return out

    async def _chunk(
        self, conn: AsyncConnection, w: SyncWindow, room_ids: list[str]
    ) -> dict[str, InitialRoom]:
        limit = self._rooms.timeline_limit(w)
        fetch = max(limit + 1, _MIN_FETCH)
        user_id = w.requester.user_id
        latest = await events_repo.list_latest_events_of_rooms(
            conn, room_ids, upto=w.upto, count=fetch
        )
        visibility = await load_visibilities(conn, room_ids, user_id)
        pages: dict[str, tuple[list[StoredEvent], bool]] = {}
        for room_id in room_ids:
            page = _page(latest[room_id], visibility[room_id], w, limit, fetch)
            if page is not None:
                pages[room_id] = page
        rooms = list(pages)
        starts = {
            room_id: events[0].stream_pos if events else w.upto + 1
            for room_id, (events, _) in pages.items()
        }
        known = {e.event_id: e for events in latest.values() for e in events}
        states = await _state_before(conn, rooms, starts, known)
        unread = await push_facts.unread_counts_of_rooms(conn, rooms, user_id)
        summaries = await rooms_facts.summaries(conn, rooms, user_id)
        out: dict[str, InitialRoom] = {}
        for room_id, (events, limited) in pages.items():
            if room_id not in states or room_id not in unread:
                continue  # gone from `rooms` meanwhile: the per-room path answers for it
            body = self._rooms.page_body(w, events, states[room_id], limited, starts[room_id] - 1)
            out[room_id] = InitialRoom(body, unread[room_id], summaries[room_id])
        return out


def _page(
    newest: list[StoredEvent], vis: VisibilityContext, w: SyncWindow, limit: int, fetch: int
) -> tuple[list[StoredEvent], bool] | None:
    """The timeline page (oldest first, and whether more matching events exist) that
    `paging.visible_page` would give, or None when `newest` cannot decide it."""
    flt = w.flt.timeline
    if newest and vis.joined_throughout(newest[0].stream_pos):
        matching = [e for e in newest if flt.allows(e)]
    else:
        matching = [e for e in newest if flt.allows(e) and vis.is_visible(e.stream_pos)]
    if len(matching) > limit:
        return matching[-limit:], True
    if len(newest) < fetch:
        return matching, False  # the room's whole history was read
    return None


_MAX_WALK = 4  # rounds of walking state back; a room still unresolved takes list_state_at


async def _state_before(
    conn: AsyncConnection,
    room_ids: list[str],
    starts: dict[str, int],
    known: dict[str, StoredEvent],
) -> dict[str, list[StoredEvent]]:
    """Each room's state just before its `start` (what `list_state_at(room, start)` gives),
    from its current state and the events already read."""
    current = await events_repo.list_full_current_state_of_rooms(conn, room_ids, known)
    state: dict[str, list[StoredEvent | None]] = {r: list(evs) for r, evs in current.items()}
    for _ in range(_MAX_WALK):
        missing = {
            ev.replaces_state
            for room_id, evs in state.items()
            for ev in evs
            if ev is not None
            and ev.stream_pos >= starts[room_id]
            and ev.replaces_state is not None
            and ev.replaces_state not in known
        }
        for found in await events_repo.list_events_by_id(conn, list(missing)):
            known[found.event_id] = found
        unresolved = False
        for room_id, evs in state.items():
            start = starts[room_id]
            for i, ev in enumerate(evs):
                while ev is not None and ev.stream_pos >= start:
                    if ev.replaces_state is None:
                        ev = None
                    elif ev.replaces_state in known:
                        ev = known[ev.replaces_state]
                    else:
                        unresolved = True
                        break
                evs[i] = ev
        if not unresolved:
            break
    out: dict[str, list[StoredEvent]] = {}
    for room_id, evs in state.items():
        if any(ev is not None and ev.stream_pos >= starts[room_id] for ev in evs):
            out[room_id] = await events_repo.list_state_at(conn, room_id, starts[room_id])
        else:
            out[room_id] = sorted((ev for ev in evs if ev is not None), key=lambda e: e.stream_pos)
    return out
