"""Paging through the events of a room that a user may see, between two stream positions.

Why its own module: `/messages` (`messages.py`) and the `/sync` timeline of a room the
user newly joined or left (`streams.py`) page the same way, skipping what history
visibility hides, so both take their pages from here. A hidden stretch of history (the
time before a user joined a `joined`-visibility room) is stepped over without being read
(`_segments`), so a page costs the same however long that stretch is.
"""

from bisect import bisect_right

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import EventFilter
from candor.matrix.events.model import StoredEvent
from candor.matrix.rooms.visibility import VisibilityContext

_MIN_CHUNK = 10


def _segments(vis: VisibilityContext) -> list[int]:
    """Where the stretches of positions begin inside which `vis.is_visible` is constant.

    It changes only at a membership of the user (its own event is always visible; the
    membership in force changes there), just after one (whether they joined later), and
    just after a history-visibility change (the setting in force before an event)."""
    points = {0}
    for pos, _ in vis.memberships:
        points.update((pos, pos + 1))
    for pos, _ in vis.visibilities:
        points.add(pos + 1)
    return sorted(points)


def _visible_at_or_below(vis: VisibilityContext, pos: int) -> int | None:
    """The highest position at or below `pos` that the user may see, if any."""
    starts = _segments(vis)
    i = bisect_right(starts, pos) - 1
    top = pos
    while i >= 0 and top >= 0:
        if vis.is_visible(top):
            return top
        top = starts[i] - 1
        i -= 1
    return None


def _visible_at_or_above(vis: VisibilityContext, pos: int) -> int | None:
    """The lowest position at or above `pos` that the user may see, if any."""
    starts = _segments(vis)
    i = bisect_right(starts, pos) - 1
    bottom = pos
    while True:
        if vis.is_visible(bottom):
            return bottom
        i += 1
        if i >= len(starts):
            return None
        bottom = starts[i]


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
        visible = _visible_at_or_above(vis, cursor + 1)
        if visible is None or visible > upto:
            break
        cursor = visible - 1
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
        visible = _visible_at_or_below(vis, cursor)
        if visible is None or visible <= after:
            break
        cursor = visible
        chunk = await events_repo.list_room_events(
            conn, room_id, after=after, upto=cursor, descending=True, limit=size
        )
        out.extend(_matching(chunk, vis, flt, chunk[-1].stream_pos if chunk else 0))
        if len(chunk) < size:
            break
        cursor = chunk[-1].stream_pos - 1
    return out[:limit], len(out) > limit
