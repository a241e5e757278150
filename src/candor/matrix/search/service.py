"""Server-side search of room events: which rooms, which positions, one page of results.

https://spec.matrix.org/v1.11/client-server-api/#server-side-search. The searcher's rooms
are those they are joined to or have left or been banned from (not forgotten; an invite is
not being in a room), narrowed by the filter's `rooms`/`not_rooms`. History visibility is
applied in the query as ranges of positions (`ranges.py`), and checked again on the page.
Everything is read in one snapshot, so the page, the count, the context and the state agree.
"""

from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.matrix.constants import EventType, Membership
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.requester import Requester
from candor.matrix.rooms.facts import MembershipRecord, user_memberships
from candor.matrix.rooms.reads import load_visibilities
from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.search import repository as repo
from candor.matrix.search.criteria import Criteria, next_batch_token, parse_next_batch
from candor.matrix.search.ranges import visible_ranges
from candor.matrix.sync.paging import visible_page, visible_page_desc
from candor.matrix.sync.tokens import page_token
from candor.store.db import Database

_IN_ROOM = (Membership.JOIN, Membership.LEAVE, Membership.BAN)


@dataclass(frozen=True, slots=True)
class EventContext:
    before: list[StoredEvent]  # newest first, as /context serves them
    after: list[StoredEvent]
    start: str
    end: str
    profiles: dict[str, JsonDict]


@dataclass(frozen=True, slots=True)
class Result:
    event: StoredEvent
    rank: float
    context: EventContext | None


@dataclass(frozen=True, slots=True)
class Group:
    order: int
    event_ids: list[str]


@dataclass(slots=True)
class Outcome:
    results: list[Result]
    count: int
    highlights: list[str]
    next_batch: str | None
    # When it was read: events' `unsigned.age` is counted up to it.
    read_ms: int
    state: dict[str, list[StoredEvent]] | None = None
    groups: dict[str, dict[str, Group]] = field(default_factory=dict)


class SearchService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def search(self, requester: Requester, crit: Criteria, next_batch: str | None) -> Outcome:
        position = parse_next_batch(next_batch, crit.order)
        offset = position if crit.order == "rank" and position is not None else 0
        before = position if crit.order == "recent" else None
        async with self._db.read() as conn:
            current = await events_repo.get_stream_position(conn)
            records = {
                m.room_id: m
                for m in await user_memberships(conn, requester.user_id)
                if m.membership in _IN_ROOM and not m.forgotten and crit.flt.allows_room(m.room_id)
            }
            vis = await load_visibilities(conn, list(records), requester.user_id)
            where = repo.Where(
                query=crit.query,
                ranges=[
                    (room_id, lo, hi)
                    for room_id, ctx in vis.items()
                    for lo, hi in visible_ranges(ctx, current)
                ],
                types=crit.types,
                senders=crit.flt.senders,
                not_senders=crit.flt.not_senders,
                upto=current,
            )
            paged = replace(where, before=before)
            # One estimate of the words' matches for the page and the count (PostgreSQL).
            estimate = await repo.match_estimate(conn, where)
            page = await repo.search(
                conn,
                paged,
                order=crit.order,
                limit=crit.limit + 1,
                offset=offset,
                estimate=estimate,
            )
            more = len(page.hits) > crit.limit
            hits = page.hits[: crit.limit]
            total = (
                page.total
                if page.total is not None
                else await repo.count(conn, where, estimate=estimate)
            )
            events = await events_repo.list_events_at(conn, [h.stream_pos for h in hits])
            found = {e.stream_pos: e for e in events}
            results = []
            for hit in hits:
                ev = found.get(hit.stream_pos)
                # The query applied visibility; checked again so a bug there cannot leak.
                if ev is not None and vis[ev.room_id].is_visible(ev.stream_pos):
                    context = None
                    if crit.context is not None:
                        context = await _context(conn, crit, vis[ev.room_id], ev, current)
                    results.append(Result(ev, hit.rank, context))
            out = Outcome(results, total, crit.query.words, None, self._clock.now_ms())
            if more and hits:
                value = offset + crit.limit if crit.order == "rank" else hits[-1].stream_pos
                out.next_batch = next_batch_token(crit.order, value)
            if crit.include_state:
                out.state = await _state(conn, records, {r.event.room_id for r in results})
        out.groups = _groups(crit.group_by, results)
        return out


async def _context(
    conn: AsyncConnection, crit: Criteria, vis: VisibilityContext, ev: StoredEvent, current: int
) -> EventContext:
    assert crit.context is not None  # noqa: S101 - the caller checked
    spec = crit.context
    before, _ = await visible_page_desc(
        conn, ev.room_id, vis, crit.flt, 0, ev.stream_pos - 1, spec.before
    )
    after, _ = await visible_page(
        conn, ev.room_id, vis, crit.flt, ev.stream_pos, current, spec.after, newest=False
    )
    profiles: dict[str, JsonDict] = {}
    if spec.include_profile:
        profiles[ev.sender] = await _profile_at(conn, ev)
    return EventContext(
        before=before,
        after=after,
        start=page_token((before[-1].stream_pos if before else ev.stream_pos) - 1),
        end=page_token(after[-1].stream_pos if after else ev.stream_pos),
        profiles=profiles,
    )


async def _profile_at(conn: AsyncConnection, ev: StoredEvent) -> JsonDict:
    """The sender's display name and avatar as their member event had them at `ev`."""
    history = await events_repo.list_state_history(conn, ev.room_id, EventType.MEMBER, ev.sender)
    content: JsonDict = {}
    for pos, member in history:
        if pos < ev.stream_pos:
            content = member.content
    profile: JsonDict = {}
    name = content.get("displayname")
    if isinstance(name, str):
        profile["displayname"] = name
    avatar = content.get("avatar_url")
    if isinstance(avatar, str) and avatar.startswith("mxc://"):
        profile["avatar_url"] = avatar
    return profile


async def _state(
    conn: AsyncConnection, records: dict[str, MembershipRecord], room_ids: set[str]
) -> dict[str, list[StoredEvent]]:
    """Each room's state as the searcher may see it: current while joined, else the state
    when they left (as GET /rooms/{id}/state serves a former member)."""
    out = {}
    for room_id in sorted(room_ids):
        record = records[room_id]
        if record.membership == Membership.JOIN:
            out[room_id] = await events_repo.list_current_state(conn, room_id)
        else:
            out[room_id] = await events_repo.list_state_at(conn, room_id, record.stream_pos + 1)
    return out


def _groups(keys: tuple[str, ...], results: list[Result]) -> dict[str, dict[str, Group]]:
    """The page's results partitioned by each requested key, groups in order of first result."""
    out: dict[str, dict[str, Group]] = {}
    for key in keys:
        groups: dict[str, Group] = {}
        for result in results:
            value = result.event.room_id if key == "room_id" else result.event.sender
            group = groups.setdefault(value, Group(len(groups), []))
            group.event_ids.append(result.event.event_id)
        out[key] = groups
    return out
