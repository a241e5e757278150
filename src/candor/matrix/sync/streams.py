"""The streams a /sync response is made of, one provider each.

Why: each provider answers one question, "what changed in my stream between `since` and
now for this person", on the snapshot the caller opened, and `SyncService` (`service.py`)
composes the answers into one response. The providers are the rooms' timelines and state
(`RoomsStream`), the ephemeral receipts and typing (`EphemeralStream`), the account data
(`account_data`), and the end-to-end encryption parts: to-device messages, device lists
and key counts (`e2ee.build_e2ee`).
"""

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.constants import STRIPPED_STATE_TYPES, EventType, Membership
from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import SyncFilter
from candor.matrix.events.model import StoredEvent, serialize_event
from candor.matrix.push import facts as push_facts
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.matrix.rooms.facts import MembershipRecord
from candor.matrix.rooms.reads import load_visibility
from candor.matrix.sync.paging import visible_page
from candor.matrix.sync.tokens import SyncToken, page_token
from candor.matrix.sync.typing import TypingTracker
from candor.matrix.sync.window import NeedsSnapshot, StreamWindow

_WINDOW_FETCH = 500  # new events fetched in one query on the incremental fast path


@dataclass(frozen=True, slots=True)
class SyncWindow:
    """One /sync request: whose, since which token, and the positions it reads between."""

    requester: Requester
    since: SyncToken | None
    # Events after `after` and up to `upto` are new to this request.
    after: int
    upto: int
    flt: SyncFilter
    full_state: bool


# --- rooms: timeline, state, invites, leaves --------------------------------------------


@dataclass(frozen=True, slots=True)
class NewEvents:
    """New events of the rooms the user was already in at `since`, fetched in one query."""

    quiet: list[str]  # the joined rooms on this incremental fast path
    by_room: dict[str, list[StoredEvent]]
    overflow: bool  # more than one query's worth: those rooms take the full path


class RoomsStream:
    """Each room's timeline and state since `since`, with history visibility applied."""

    def __init__(self, clock: Clock, *, default_timeline_limit: int) -> None:
        self._clock = clock
        self._default_limit = default_timeline_limit

    async def new_events(
        self,
        conn: AsyncConnection | None,
        w: SyncWindow,
        memberships: list[MembershipRecord],
        shared: StreamWindow | None = None,
    ) -> NewEvents:
        """New events of the rooms the user was in at `since`: from `shared` (the window's
        events, read once for every /sync of that window) when given, else one query."""
        quiet = [
            m.room_id
            for m in memberships
            if m.membership == Membership.JOIN
            and w.since is not None
            and m.stream_pos <= w.after
            and not w.full_state
            and w.flt.rooms.allows_room(m.room_id)
        ]
        by_room: dict[str, list[StoredEvent]] = defaultdict(list)
        if shared is not None and (shared.after, shared.upto) == (w.after, w.upto):
            wanted = set(quiet)
            for ev in shared.events:
                if ev.room_id in wanted:
                    by_room[ev.room_id].append(ev)
            return NewEvents(quiet, by_room, False)
        if conn is None:
            raise NeedsSnapshot
        window = await events_repo.list_events_in_rooms(
            conn, quiet, after=w.after, upto=w.upto, limit=_WINDOW_FETCH + 1
        )
        for ev in window:
            by_room[ev.room_id].append(ev)
        return NewEvents(quiet, by_room, len(window) > _WINDOW_FETCH)

    async def joined(
        self,
        conn: AsyncConnection | None,
        w: SyncWindow,
        m: MembershipRecord,
        new: NewEvents,
    ) -> JsonDict:
        """A joined room's timeline and state (the caller adds the other streams). Without
        `conn`, only what the new events alone make (else `NeedsSnapshot`)."""
        if m.room_id in new.quiet and not new.overflow:
            return await self._joined_incremental(
                conn, w, m.room_id, new.by_room.get(m.room_id, [])
            )
        if conn is None:
            raise NeedsSnapshot
        newly = w.since is None or m.stream_pos > w.after
        return await self._joined_full(conn, w, m.room_id, w.full_state or newly)

    async def invited(
        self, conn: AsyncConnection, w: SyncWindow, m: MembershipRecord
    ) -> JsonDict | None:
        """The stripped state of a room the user is invited to, if the invite is new."""
        if w.since is None or m.stream_pos > w.after:
            return {
                "invite_state": {
                    "events": await self._stripped(conn, m.room_id, w.requester.user_id)
                }
            }
        return None

    async def left(
        self, conn: AsyncConnection, w: SyncWindow, m: MembershipRecord
    ) -> JsonDict | None:
        """A room the user left or was banned from, if that is new or the filter asks."""
        changed = w.since is not None and w.after < m.stream_pos <= w.upto
        if (changed or (w.flt.include_leave and not m.forgotten)) and not (
            w.since is None and not w.flt.include_leave
        ):
            return await self._left(conn, w, m)
        return None

    async def summary(self, conn: AsyncConnection, room_id: str, user_id: str) -> JsonDict:
        counts = await rooms_facts.member_counts(conn, room_id)
        members = await rooms_facts.room_members(conn, room_id, None)
        heroes = [u for u in members if u != user_id][:5]
        return {
            "m.heroes": heroes,
            "m.joined_member_count": counts.get(Membership.JOIN, 0),
            "m.invited_member_count": counts.get(Membership.INVITE, 0),
        }

    def timeline_limit(self, w: SyncWindow) -> int:
        """How many timeline events a room gets (`initial.py` reads rooms set-wise)."""
        return w.flt.timeline.limit or self._default_limit

    def page_body(
        self,
        w: SyncWindow,
        events: list[StoredEvent],
        state: list[StoredEvent],
        limited: bool,
        prev: int,
    ) -> JsonDict:
        """A joined room's timeline and state as `joined` answers them (`initial.py`)."""
        return self._room_body(w, events, state, limited, prev)

    def _serialize(self, requester: Requester, events: list[StoredEvent]) -> list[JsonDict]:
        now = self._clock.now_ms()
        return [
            serialize_event(e, now_ms=now, requester_device=requester.device, with_room_id=False)
            for e in events
        ]

    async def _joined_incremental(
        self,
        conn: AsyncConnection | None,
        w: SyncWindow,
        room_id: str,
        new_events: list[StoredEvent],
    ) -> JsonDict:
        """A room the user was already in at `since`: everything new is visible to them."""
        limit = w.flt.timeline.limit or self._default_limit
        events = [e for e in new_events if w.flt.timeline.allows(e)]
        limited = len(events) > limit
        events = events[-limit:] if limit else []
        state: list[StoredEvent] = []
        if limited and events:
            if conn is None:
                raise NeedsSnapshot
            state = await events_repo.list_state_at(
                conn, room_id, events[0].stream_pos, after=w.after
            )
        prev = events[0].stream_pos - 1 if events else w.upto
        return self._room_body(w, events, state, limited, prev)

    async def _joined_full(
        self, conn: AsyncConnection, w: SyncWindow, room_id: str, full: bool
    ) -> JsonDict:
        vis = await load_visibility(conn, room_id, w.requester.user_id)
        limit = w.flt.timeline.limit or self._default_limit
        lower = 0 if full else w.after
        events, more = await visible_page(conn, room_id, vis, w.flt.timeline, lower, w.upto, limit)
        limited = more
        start = events[0].stream_pos if events else w.upto + 1
        state = await events_repo.list_state_at(conn, room_id, start, after=0 if full else w.after)
        prev = start - 1
        return self._room_body(w, events, state, limited, prev)

    def _room_body(
        self,
        w: SyncWindow,
        events: list[StoredEvent],
        state: list[StoredEvent],
        limited: bool,
        prev: int,
    ) -> JsonDict:
        state = [e for e in state if w.flt.state.allows(e)]
        return {
            "timeline": {
                "events": self._serialize(w.requester, events),
                "limited": limited,
                "prev_batch": page_token(prev),
            },
            "state": {"events": self._serialize(w.requester, state)},
        }

    async def _left(self, conn: AsyncConnection, w: SyncWindow, m: MembershipRecord) -> JsonDict:
        vis = await load_visibility(conn, m.room_id, w.requester.user_id)
        limit = w.flt.timeline.limit or self._default_limit
        events, more = await visible_page(
            conn, m.room_id, vis, w.flt.timeline, w.after, m.stream_pos, limit
        )
        start = events[0].stream_pos if events else m.stream_pos + 1
        state = await events_repo.list_state_at(conn, m.room_id, start, after=w.after)
        body = self._room_body(w, events, state, more, start - 1)
        body["account_data"] = {"events": []}
        return body

    async def _stripped(self, conn: AsyncConnection, room_id: str, user_id: str) -> list[JsonDict]:
        """The spec's stripped state, the invite itself and the inviter's member event: a
        client shows who invited them by that event's display name (Synapse sends it too),
        and a direct chat by the invite's `is_direct`."""
        state = await events_repo.list_current_state(conn, room_id, list(STRIPPED_STATE_TYPES))
        invite = await events_repo.get_current_state_event(conn, room_id, EventType.MEMBER, user_id)
        if invite is not None:
            if invite.sender != user_id:
                inviter = await events_repo.get_current_state_event(
                    conn, room_id, EventType.MEMBER, invite.sender
                )
                if inviter is not None:
                    state.append(inviter)
            state.append(invite)
        return [
            {"type": e.type, "state_key": e.state_key, "content": e.content, "sender": e.sender}
            for e in state
        ]


# --- ephemeral: receipts and typing -----------------------------------------------------


class EphemeralStream:
    """Receipts (rows on the event stream) and typing (in memory, with its own serial)."""

    def __init__(self, typing: TypingTracker) -> None:
        self._typing = typing

    def position(self) -> int:
        """The typing serial a response's token carries; read before the snapshot opens."""
        return self._typing.serial

    async def receipts(
        self, conn: AsyncConnection, w: SyncWindow, room_ids: list[str]
    ) -> dict[str, JsonDict]:
        """Receipts by room in the m.receipt shape; private receipts only to their owner."""
        rows = await rooms_facts.receipts_changed(
            conn, room_ids, after=w.after if w.since else 0, upto=w.upto
        )
        user_id = w.requester.user_id
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

    def events(self, room_id: str, receipts: dict[str, JsonDict], w: SyncWindow) -> list[JsonDict]:
        """A joined room's ephemeral events: its new receipts, and typing if it changed."""
        since_typing = w.since.typing if w.since is not None else -1
        events: list[JsonDict] = []
        if room_id in receipts and w.flt.ephemeral.allows_type(EventType.RECEIPT):
            events.append({"type": EventType.RECEIPT, "content": receipts[room_id]})
        typing = self._typing
        if w.flt.ephemeral.allows_type(EventType.TYPING) and (
            typing.typing_users(room_id)
            if since_typing < 0  # initial sync: only when someone is typing
            else typing.changed_since(room_id, since_typing)
        ):
            events.append(
                {"type": EventType.TYPING, "content": {"user_ids": typing.typing_users(room_id)}}
            )
        return events


# --- account data -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountData:
    global_events: list[JsonDict]
    by_room: dict[str, list[JsonDict]]


async def account_data(conn: AsyncConnection, w: SyncWindow) -> AccountData:
    """The user's account data changed since `since` (all of it on an initial sync).

    `m.push_rules` is the server's: its content is the user's ruleset as it is now (the
    defaults included), and an initial sync carries it even if the user never changed a
    rule, as clients expect."""
    user_id = w.requester.user_id
    rows = await accounts_facts.account_data_changes(
        conn, user_id, after=0 if w.since is None else w.after, upto=w.upto
    )
    by_room: dict[str, list[JsonDict]] = defaultdict(list)
    global_events: list[JsonDict] = []
    push_rules = w.since is None
    for room_id, data_type, content in rows:
        if room_id:
            if w.flt.room_account_data.allows_type(data_type):
                by_room[room_id].append({"type": data_type, "content": content})
        elif data_type == push_facts.PUSH_RULES:
            push_rules = True
        elif w.flt.account_data.allows_type(data_type):
            global_events.append({"type": data_type, "content": content})
    if push_rules and w.flt.account_data.allows_type(push_facts.PUSH_RULES):
        content = await push_facts.push_rules_content(conn, user_id)
        global_events.append({"type": push_facts.PUSH_RULES, "content": content})
    return AccountData(global_events, by_room)
