"""Spaces and summaries: the space hierarchy, a room's summary, and mutual rooms.

https://spec.matrix.org/v1.11/client-server-api/#spaces and the room summary API (v1.15).
Why one module: all three answer "what may this user learn about rooms" from the same
rule (`may_see`), on one read snapshot, without writing anything. Candor does not
federate, so `via` servers are never asked: every room is local or unknown.

A room may be seen by its joined, invited and knocking members, by anyone when its
join rule lets them ask in (public, knock, knock_restricted) or its history is
world-readable, and, when it is restricted, by the members of a room its `allow` names
(they may join it: `restricted.py`). A banned user sees none of it (the hierarchy API's
403 names bans).
"""

import re
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.ids import RoomID, UserID
from candor.matrix.constants import (
    SPACE_ROOM_TYPE,
    EventType,
    HistoryVisibility,
    JoinRule,
    Membership,
)
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.directory import SUMMARY_TYPES, summarise
from candor.matrix.rooms.repository import ListedRoom, RoomRules
from candor.matrix.rooms.restricted import (
    RESTRICTED_JOIN_RULES,
    allowed_rooms,
    may_join_via_membership,
)

DEFAULT_HIERARCHY_PAGE: Final = 50
MAX_HIERARCHY_PAGE: Final = 100
# How far a paginated walk may go: each page re-walks from the root (no server session).
MAX_HIERARCHY_ROOMS: Final = 1000
DEFAULT_MUTUAL_PAGE: Final = 100
_OPEN_JOIN_RULES = frozenset({JoinRule.PUBLIC, JoinRule.KNOCK, JoinRule.KNOCK_RESTRICTED})
_MEMBER_SEES = frozenset({Membership.JOIN, Membership.INVITE, Membership.KNOCK})
_HIERARCHY_TOKEN = re.compile(r"h(0|[1-9][0-9]{0,8})\.(-|0|[1-9][0-9]{0,8})\.([01])")
_ORDER = re.compile(r"[\x20-\x7e]{1,50}")


def may_see(rules: RoomRules | None, membership: str | None) -> bool:
    """Whether a user with `membership` may learn about a room with these rules."""
    if rules is None or membership == Membership.BAN:
        return False
    if membership in _MEMBER_SEES:
        return True
    return (
        rules.join_rule in _OPEN_JOIN_RULES
        or rules.history_visibility == HistoryVisibility.WORLD_READABLE
    )


@dataclass(frozen=True, slots=True)
class HierarchyQuery:
    suggested_only: bool = False
    limit: int | None = None
    max_depth: int | None = None
    since: str | None = None

    def token(self, offset: int) -> str:
        """A page token names the walk's parameters, so a changed one is refused."""
        depth = "-" if self.max_depth is None else str(self.max_depth)
        return f"h{offset}.{depth}.{int(self.suggested_only)}"

    def offset(self) -> int:
        if self.since is None:
            return 0
        match = _HIERARCHY_TOKEN.fullmatch(self.since)
        if match is None or self.token(int(match.group(1))) != self.since:
            raise InvalidParam("Unknown pagination token, or its parameters changed")
        return int(match.group(1))


def _child_order(ev: StoredEvent) -> tuple[int, str, int, str]:
    """The spec's ordering of a space's children: a valid `order` first (by it), then by
    the child event's timestamp, then by room id."""
    order = ev.content.get("order")
    if isinstance(order, str) and _ORDER.fullmatch(order) is not None:
        return (0, order, ev.origin_server_ts, ev.state_key or "")
    return (1, "", ev.origin_server_ts, ev.state_key or "")


def valid_children(events: list[StoredEvent], suggested_only: bool) -> list[StoredEvent]:
    """A space's `m.space.child` events that name a room and a non-empty `via`, in order."""
    out = []
    for ev in events:
        via = ev.content.get("via")
        if not (ev.state_key or "").startswith("!") or not isinstance(via, list) or not via:
            continue
        if suggested_only and ev.content.get("suggested") is not True:
            continue
        out.append(ev)
    return sorted(out, key=_child_order)


async def _summary(conn: AsyncConnection, room_id: str, rules: RoomRules) -> JsonDict:
    """A room's summary chunk: the published directory's fields, room version and
    encryption."""
    state = await events_repo.list_current_state(
        conn, room_id, [*SUMMARY_TYPES, EventType.ENCRYPTION, EventType.JOIN_RULES]
    )
    joined = (await repo.count_members(conn, room_id)).get(Membership.JOIN, 0)
    listed = ListedRoom(room_id, rules.join_rule, rules.history_visibility, joined)
    chunk = summarise(listed, state)
    by_type = {e.type: e.content for e in state}
    version = by_type.get(EventType.CREATE, {}).get("room_version")
    chunk["room_version"] = version if isinstance(version, str) else "1"
    algorithm = by_type.get(EventType.ENCRYPTION, {}).get("algorithm")
    if algorithm == "m.megolm.v1.aes-sha2":
        chunk["encryption"] = algorithm
    if rules.join_rule in RESTRICTED_JOIN_RULES:
        chunk["allowed_room_ids"] = allowed_rooms(by_type.get(EventType.JOIN_RULES))
    return chunk


async def _visible(
    conn: AsyncConnection,
    room_id: str,
    rules: RoomRules | None,
    user_id: str,
    membership: str | None,
) -> bool:
    """`may_see`, and for a restricted room also whether the user may join it."""
    if may_see(rules, membership):
        return True
    return (
        rules is not None
        and membership != Membership.BAN
        and rules.join_rule in RESTRICTED_JOIN_RULES
        and await may_join_via_membership(conn, room_id, user_id)
    )


async def _membership(conn: AsyncConnection, room_id: str, user_id: str) -> str | None:
    record = await repo.get_membership(conn, room_id, user_id)
    return None if record is None else record.membership


async def room_summary(conn: AsyncConnection, user_id: str, room_id: str) -> JsonDict:
    """`GET /room_summary/{roomIdOrAlias}`: 404 alike for unknown rooms and hidden ones."""
    rules = await repo.get_room_rules(conn, room_id)
    membership = await _membership(conn, room_id, user_id)
    if rules is None or not await _visible(conn, room_id, rules, user_id, membership):
        raise NotFound("Room not found")
    chunk = await _summary(conn, room_id, rules)
    chunk["membership"] = membership or Membership.LEAVE
    return chunk


async def hierarchy(
    conn: AsyncConnection, user_id: str, root: str, query: HierarchyQuery
) -> JsonDict:
    """`GET /rooms/{roomId}/hierarchy`: a depth-first walk of `m.space.child` from `root`.

    Each page re-walks from the root, in the same order, and skips what earlier pages
    gave: the token is an offset (plus the walk's parameters), and no session is kept.
    Rooms the user may not see are left out with everything beneath them.
    """
    if query.limit is not None and query.limit < 1:
        raise InvalidParam("limit must be at least 1")
    if query.max_depth is not None and query.max_depth < 0:
        raise InvalidParam("max_depth must not be negative")
    limit = min(query.limit or DEFAULT_HIERARCHY_PAGE, MAX_HIERARCHY_PAGE)
    offset = query.offset()
    root_rules = await repo.get_room_rules(conn, root)
    if not await _visible(conn, root, root_rules, user_id, await _membership(conn, root, user_id)):
        raise Forbidden("You may not view this room")
    if offset + limit > MAX_HIERARCHY_ROOMS:
        raise InvalidParam("The hierarchy is too large to page further")
    rooms: list[JsonDict] = []
    seen: set[str] = set()
    stack: list[tuple[str, int]] = [(root, 0)]
    while stack and len(rooms) <= offset + limit:
        room_id, depth = stack.pop()
        if room_id in seen:
            continue
        seen.add(room_id)
        rules = await repo.get_room_rules(conn, room_id)
        if rules is None or not await _visible(
            conn, room_id, rules, user_id, await _membership(conn, room_id, user_id)
        ):
            continue
        chunk = await _summary(conn, room_id, rules)
        children: list[StoredEvent] = []
        if chunk.get("room_type") == SPACE_ROOM_TYPE:
            found = await events_repo.list_current_state(conn, room_id, [EventType.SPACE_CHILD])
            children = valid_children(found, query.suggested_only)
        chunk["children_state"] = [
            {
                "type": ev.type,
                "state_key": ev.state_key,
                "content": ev.content,
                "sender": ev.sender,
                "origin_server_ts": ev.origin_server_ts,
            }
            for ev in children
        ]
        rooms.append(chunk)
        if query.max_depth is None or depth < query.max_depth:
            stack.extend((ev.state_key or "", depth + 1) for ev in reversed(children))
    out: JsonDict = {"rooms": rooms[offset : offset + limit]}
    if len(rooms) > offset + limit:
        out["next_batch"] = query.token(offset + limit)
    return out


async def mutual_rooms(
    conn: AsyncConnection, user_id: str, other: str, since: str | None
) -> JsonDict:
    """`GET /mutual_rooms`: rooms both users are joined to, by room id; the token is the
    last room id of the previous page (a room the requester is in)."""
    other = str(UserID.parse(other))  # InvalidId: 400 M_INVALID_PARAM
    if other == user_id:
        raise InvalidParam("You share every room with yourself")
    after = None if since is None else str(RoomID.parse(since))
    page, total = await repo.list_mutual_rooms(conn, user_id, other, after, DEFAULT_MUTUAL_PAGE + 1)
    out: JsonDict = {"joined": page[:DEFAULT_MUTUAL_PAGE], "count": total}
    if len(page) > DEFAULT_MUTUAL_PAGE:
        out["next_batch"] = page[DEFAULT_MUTUAL_PAGE - 1]
    return out
