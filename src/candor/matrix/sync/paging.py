"""Paging through the events of a room that a user may see, between two stream positions.

Why its own module: `/messages` (`messages.py`) and the `/sync` timeline of a room the
user newly joined or left (`streams.py`) page the same way, skipping what history
visibility hides, so both take their pages from here.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import EventFilter
from candor.matrix.events.model import StoredEvent
from candor.matrix.rooms.visibility import VisibilityContext

_MIN_CHUNK = 10


def _matching(
    chunk: list[StoredEvent], vis: VisibilityContext, flt: EventFilter, first: int
) -> list[StoredEvent]:
    """The chunk's events the filter allows and the user may see; `first` is the chunk's
    lowest position (when the user is joined from there on, all of it is visible)."""
    if vis.joined_throughout(first):
        return [e for e in chunk if flt.allows(e)]
    return [e for e in chunk if flt.allows(e) and vis.is_visible(e.stream_pos)]


async def visible_page(
    conn: AsyncConnection,
    room_id: str,
    vis: VisibilityContext,
    flt: EventFilter,
    after: int,
    upto: int,
    limit: int,
    *,
    newest: bool = True,
) -> tuple[list[StoredEvent], bool]:
    """Up to `limit` visible events in (after, upto], oldest first; `newest` takes the last ones.

    Returns the events and whether more matching events exist beyond the page.
    """
    if newest:
        events, more = await visible_page_desc(conn, room_id, vis, flt, after, upto, limit)
        events.reverse()
        return events, more
    out: list[StoredEvent] = []
    cursor = after
    size = max(limit + 1, _MIN_CHUNK)  # one read answers a page when nothing is hidden
    while len(out) <= limit:
        chunk = await events_repo.list_room_events(
            conn, room_id, after=cursor, upto=upto, descending=False, limit=size
        )
        out.extend(_matching(chunk, vis, flt, chunk[0].stream_pos if chunk else 0))
        if len(chunk) < size:
            break
        cursor = chunk[-1].stream_pos
    return out[:limit], len(out) > limit


async def visible_page_desc(
    conn: AsyncConnection,
    room_id: str,
    vis: VisibilityContext,
    flt: EventFilter,
    after: int,
    upto: int,
    limit: int,
) -> tuple[list[StoredEvent], bool]:
    """Up to `limit` visible events in (after, upto], newest first."""
    out: list[StoredEvent] = []
    cursor = upto
    size = max(limit + 1, _MIN_CHUNK)
    while len(out) <= limit:
        chunk = await events_repo.list_room_events(
            conn, room_id, after=after, upto=cursor, descending=True, limit=size
        )
        out.extend(_matching(chunk, vis, flt, chunk[-1].stream_pos if chunk else 0))
        if len(chunk) < size:
            break
        cursor = chunk[-1].stream_pos - 1
    return out[:limit], len(out) > limit
