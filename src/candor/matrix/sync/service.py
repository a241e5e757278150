"""/sync and /messages: what a user sees of their rooms, between two stream positions.

The response is built from the database between `since` and the current position; a
long-poll registers with the notifier *before* reading so no commit can slip between the
read and the wait. History visibility is applied wherever events before the user's
current join could appear (a new join, a leave, /messages).
"""

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.ids import RoomID
from candor.matrix.accounts import repository as accounts_repo
from candor.matrix.auth import Requester
from candor.matrix.constants import STRIPPED_STATE_TYPES, EventType, Membership
from candor.matrix.context import Homeserver
from candor.matrix.errors import Forbidden, InvalidParam
from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import EventFilter, SyncFilter
from candor.matrix.events.model import StoredEvent, serialize_event
from candor.matrix.rooms import repository as rooms_repo
from candor.matrix.rooms.reads import load_visibility
from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.sync.e2ee import acknowledge_to_device, build_e2ee
from candor.matrix.sync.tokens import SyncToken, page_token, parse_page_token

logger = logging.getLogger(__name__)

_WINDOW_FETCH = 500  # new events fetched in one query on the incremental fast path
_PAGE_CHUNK = 100


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]
    start: str
    end: str | None
    state: list[StoredEvent]


class SyncService:
    def __init__(self, hs: Homeserver) -> None:
        self._hs = hs
        self._db = hs.db
        self._clock = hs.clock

    # --- /sync -------------------------------------------------------------------------

    async def sync(
        self,
        requester: Requester,
        since: SyncToken | None,
        timeout_ms: int,
        sync_filter: SyncFilter,
        full_state: bool,
    ) -> JsonDict:
        timeout_ms = min(max(timeout_ms, 0), self._hs.settings.sync.max_timeout_ms)
        if since is not None:
            await acknowledge_to_device(self._db, requester, since)
        if since is None or full_state or timeout_ms == 0:
            return await self._build(requester, since, sync_filter, full_state)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        async with self._db.read() as conn:
            rooms = await rooms_repo.list_joined_rooms(conn, requester.user_id)
        with self._hs.notifier.listen(requester.user_id, rooms) as listener:
            while True:
                # Clear before reading: a commit that lands during the read sets it again.
                listener.event.clear()
                result = await self._build(requester, since, sync_filter, False)
                remaining = deadline - loop.time()
                if not _is_empty(result) or remaining <= 0:
                    return result
                try:
                    await asyncio.wait_for(listener.event.wait(), remaining)
                except TimeoutError:
                    # Nothing arrived: answer with the latest token (no new events).
                    return await self._build(requester, since, sync_filter, False)

    async def _build(
        self, requester: Requester, since: SyncToken | None, flt: SyncFilter, full_state: bool
    ) -> JsonDict:
        user_id = requester.user_id
        typing_serial = self._hs.typing.serial
        async with self._db.read() as conn:
            upto = await events_repo.get_stream_position(conn)
            after = 0 if since is None else min(since.position, upto)
            since_typing = since.typing if since is not None else -1
            memberships = await rooms_repo.list_user_memberships(conn, user_id)
            join: JsonDict = {}
            invite: JsonDict = {}
            leave: JsonDict = {}
            joined_quiet = [
                m.room_id
                for m in memberships
                if m.membership == Membership.JOIN
                and since is not None
                and m.stream_pos <= after
                and not full_state
                and flt.rooms.allows_room(m.room_id)
            ]
            window = await events_repo.list_events_in_rooms(
                conn, joined_quiet, after=after, upto=upto, limit=_WINDOW_FETCH + 1
            )
            overflow = len(window) > _WINDOW_FETCH
            by_room: dict[str, list[StoredEvent]] = defaultdict(list)
            for ev in window:
                by_room[ev.room_id].append(ev)
            receipts = await self._receipts(
                conn, [m.room_id for m in memberships], after, upto, since, user_id
            )
            account_data = await accounts_repo.list_account_data(
                conn, user_id, after=0 if since is None else after, upto=upto
            )
            room_data: dict[str, list[JsonDict]] = defaultdict(list)
            global_data: list[JsonDict] = []
            for room_id, data_type, content in account_data:
                if room_id:
                    if flt.room_account_data.allows_type(data_type):
                        room_data[room_id].append({"type": data_type, "content": content})
                elif flt.account_data.allows_type(data_type):
                    global_data.append({"type": data_type, "content": content})

            for m in memberships:
                if not flt.rooms.allows_room(m.room_id):
                    continue
                if m.membership == Membership.JOIN:
                    if m.room_id in joined_quiet and not overflow:
                        room = await self._joined_incremental(
                            conn, requester, m.room_id, by_room.get(m.room_id, []), after, upto, flt
                        )
                    else:
                        newly = since is None or m.stream_pos > after
                        room = await self._joined_full(
                            conn, requester, m.room_id, after, upto, flt, full_state or newly
                        )
                    self._add_ephemeral(room, m.room_id, receipts, since_typing, flt)
                    if room_data.get(m.room_id):
                        room["account_data"] = {"events": room_data[m.room_id]}
                    if since is None or full_state or _room_has_content(room):
                        room.setdefault("account_data", {"events": []})
                        room.setdefault("ephemeral", {"events": []})
                        room["unread_notifications"] = await self._unread(conn, m.room_id, user_id)
                        if since is None or full_state or _has_member_events(room):
                            # The spec lets an unchanged summary be omitted.
                            room["summary"] = await self._summary(conn, m.room_id, user_id)
                        join[m.room_id] = room
                elif m.membership == Membership.INVITE:
                    if since is None or m.stream_pos > after:
                        invite[m.room_id] = {
                            "invite_state": {
                                "events": await self._stripped(conn, m.room_id, user_id)
                            }
                        }
                elif m.membership in (Membership.LEAVE, Membership.BAN):
                    changed = since is not None and after < m.stream_pos <= upto
                    if (changed or (flt.include_leave and not m.forgotten)) and not (
                        since is None and not flt.include_leave
                    ):
                        leave[m.room_id] = await self._left(conn, requester, m, after, flt)
            e2ee = await build_e2ee(conn, requester, since, upto)
        response: JsonDict = {
            "next_batch": str(SyncToken(upto, typing_serial, e2ee.to_device_upto)),
            "rooms": {"join": join, "invite": invite, "leave": leave, "knock": {}},
            "account_data": {"events": global_data},
            "presence": {"events": []},
        }
        e2ee.apply(response)
        return response

    def _serialize(self, requester: Requester, events: list[StoredEvent]) -> list[JsonDict]:
        now = self._clock.now_ms()
        return [
            serialize_event(e, now_ms=now, requester_device=requester.device, with_room_id=False)
            for e in events
        ]

    async def _joined_incremental(
        self,
        conn: AsyncConnection,
        requester: Requester,
        room_id: str,
        new_events: list[StoredEvent],
        after: int,
        upto: int,
        flt: SyncFilter,
    ) -> JsonDict:
        """A room the user was already in at `since`: everything new is visible to them."""
        limit = flt.timeline.limit or self._hs.settings.sync.default_timeline_limit
        events = [e for e in new_events if flt.timeline.allows(e)]
        limited = len(events) > limit
        events = events[-limit:] if limit else []
        state: list[StoredEvent] = []
        if limited and events:
            state = await events_repo.list_state_at(
                conn, room_id, events[0].stream_pos, after=after
            )
        prev = events[0].stream_pos - 1 if events else upto
        return self._room_body(requester, events, state, limited, prev, flt)

    async def _joined_full(
        self,
        conn: AsyncConnection,
        requester: Requester,
        room_id: str,
        after: int,
        upto: int,
        flt: SyncFilter,
        full: bool,
    ) -> JsonDict:
        vis = await load_visibility(conn, room_id, requester.user_id)
        limit = flt.timeline.limit or self._hs.settings.sync.default_timeline_limit
        lower = 0 if full else after
        events, more = await _visible_page(conn, room_id, vis, flt.timeline, lower, upto, limit)
        limited = more
        start = events[0].stream_pos if events else upto + 1
        state = await events_repo.list_state_at(conn, room_id, start, after=0 if full else after)
        prev = start - 1
        return self._room_body(requester, events, state, limited, prev, flt)

    def _room_body(
        self,
        requester: Requester,
        events: list[StoredEvent],
        state: list[StoredEvent],
        limited: bool,
        prev: int,
        flt: SyncFilter,
    ) -> JsonDict:
        state = [e for e in state if flt.state.allows(e)]
        return {
            "timeline": {
                "events": self._serialize(requester, events),
                "limited": limited,
                "prev_batch": page_token(prev),
            },
            "state": {"events": self._serialize(requester, state)},
        }

    async def _left(
        self,
        conn: AsyncConnection,
        requester: Requester,
        m: rooms_repo.MembershipRecord,
        after: int,
        flt: SyncFilter,
    ) -> JsonDict:
        vis = await load_visibility(conn, m.room_id, requester.user_id)
        limit = flt.timeline.limit or self._hs.settings.sync.default_timeline_limit
        events, more = await _visible_page(
            conn, m.room_id, vis, flt.timeline, after, m.stream_pos, limit
        )
        start = events[0].stream_pos if events else m.stream_pos + 1
        state = await events_repo.list_state_at(conn, m.room_id, start, after=after)
        body = self._room_body(requester, events, state, more, start - 1, flt)
        body["account_data"] = {"events": []}
        return body

    async def _stripped(self, conn: AsyncConnection, room_id: str, user_id: str) -> list[JsonDict]:
        state = await events_repo.list_current_state(conn, room_id, list(STRIPPED_STATE_TYPES))
        invite = await events_repo.get_current_state_event(conn, room_id, EventType.MEMBER, user_id)
        if invite is not None:
            state.append(invite)
        return [
            {"type": e.type, "state_key": e.state_key, "content": e.content, "sender": e.sender}
            for e in state
        ]

    async def _receipts(
        self,
        conn: AsyncConnection,
        room_ids: list[str],
        after: int,
        upto: int,
        since: SyncToken | None,
        user_id: str,
    ) -> dict[str, JsonDict]:
        """Receipts by room in the m.receipt shape; private receipts only to their owner."""
        rows = await rooms_repo.list_receipts(
            conn, room_ids, after=after if since else 0, upto=upto
        )
        out: dict[str, JsonDict] = {}
        for room_id, event_id, rtype, user, thread, ts in rows:
            if rtype == "m.read.private" and user != user_id:
                continue
            content = out.setdefault(room_id, {})
            by_type = content.setdefault(event_id, {})
            assert isinstance(by_type, dict)  # noqa: S101 - built just above
            users = by_type.setdefault(rtype, {})
            receipt: JsonDict = {"ts": ts}
            if thread:
                receipt["thread_id"] = thread
            users[user] = receipt
        return out

    def _add_ephemeral(
        self,
        room: JsonDict,
        room_id: str,
        receipts: dict[str, JsonDict],
        since_typing: int,
        flt: SyncFilter,
    ) -> None:
        events: list[JsonDict] = []
        if room_id in receipts and flt.ephemeral.allows_type(EventType.RECEIPT):
            events.append({"type": EventType.RECEIPT, "content": receipts[room_id]})
        typing = self._hs.typing
        if flt.ephemeral.allows_type(EventType.TYPING) and (
            typing.typing_users(room_id)
            if since_typing < 0  # initial sync: only when someone is typing
            else typing.changed_since(room_id, since_typing)
        ):
            events.append(
                {"type": EventType.TYPING, "content": {"user_ids": typing.typing_users(room_id)}}
            )
        if events:
            room["ephemeral"] = {"events": events}

    async def _unread(self, conn: AsyncConnection, room_id: str, user_id: str) -> JsonDict:
        """Messages from others after the user's read receipt (no push rules evaluated)."""
        count = await events_repo.count_unread(conn, room_id, user_id)
        return {"notification_count": count, "highlight_count": 0}

    async def _summary(self, conn: AsyncConnection, room_id: str, user_id: str) -> JsonDict:
        counts = await rooms_repo.count_members(conn, room_id)
        members = await rooms_repo.list_room_members(conn, room_id, None)
        heroes = [u for u in members if u != user_id][:5]
        return {
            "m.heroes": heroes,
            "m.joined_member_count": counts.get(Membership.JOIN, 0),
            "m.invited_member_count": counts.get(Membership.INVITE, 0),
        }

    # --- /messages ---------------------------------------------------------------------

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
                events, more = await _visible_page_desc(
                    conn, room_id, vis, flt, lower, start, limit
                )
                end = page_token(events[-1].stream_pos - 1) if more and events else None
            else:
                upper = min(bound, current) if bound is not None else current
                events, more = await _visible_page(
                    conn, room_id, vis, flt, start, upper, limit, newest=False
                )
                end = page_token(events[-1].stream_pos) if more and events else None
            state: list[StoredEvent] = []
        return Page(events, page_token(start), end, state)


async def _visible_page(
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
        events, more = await _visible_page_desc(conn, room_id, vis, flt, after, upto, limit)
        events.reverse()
        return events, more
    out: list[StoredEvent] = []
    cursor = after
    while len(out) <= limit:
        chunk = await events_repo.list_room_events(
            conn, room_id, after=cursor, upto=upto, descending=False, limit=_PAGE_CHUNK
        )
        out.extend(e for e in chunk if flt.allows(e) and vis.is_visible(e.stream_pos))
        if len(chunk) < _PAGE_CHUNK:
            break
        cursor = chunk[-1].stream_pos
    return out[:limit], len(out) > limit


async def _visible_page_desc(
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
    while len(out) <= limit:
        chunk = await events_repo.list_room_events(
            conn, room_id, after=after, upto=cursor, descending=True, limit=max(limit + 1, 10)
        )
        out.extend(e for e in chunk if flt.allows(e) and vis.is_visible(e.stream_pos))
        if len(chunk) < max(limit + 1, 10):
            break
        cursor = chunk[-1].stream_pos - 1
    return out[:limit], len(out) > limit


def _has_member_events(room: JsonDict) -> bool:
    for section in ("timeline", "state"):
        part = room.get(section)
        events = part.get("events") if isinstance(part, dict) else None
        if isinstance(events, list) and any(
            isinstance(e, dict) and e.get("type") == EventType.MEMBER for e in events
        ):
            return True
    return False


def _room_has_content(room: JsonDict) -> bool:
    timeline = room.get("timeline")
    state = room.get("state")
    return bool(
        (isinstance(timeline, dict) and timeline.get("events"))
        or (isinstance(state, dict) and state.get("events"))
        or "ephemeral" in room
        or "account_data" in room
    )


def _is_empty(result: JsonDict) -> bool:
    rooms = result["rooms"]
    assert isinstance(rooms, dict)  # noqa: S101 - built by _build
    account_data = result["account_data"]
    assert isinstance(account_data, dict)  # noqa: S101
    to_device = result["to_device"]
    assert isinstance(to_device, dict)  # noqa: S101
    device_lists = result["device_lists"]
    assert isinstance(device_lists, dict)  # noqa: S101
    return not (
        rooms["join"]
        or rooms["invite"]
        or rooms["leave"]
        or account_data["events"]
        or to_device["events"]
        or device_lists["changed"]
        or device_lists["left"]
    )
