"""/sync: what a user sees of their rooms and devices, between two stream positions.

The response is built from the database between `since` and the current position, one
snapshot for every stream (`streams.py`: rooms, ephemeral, account data; `e2ee.py`); this
module composes them and long-polls. A long-poll registers with the notifier *before*
reading so no commit can slip between the read and the wait. History visibility is applied
wherever events before the user's current join could appear (a new join, a leave).
"""

import asyncio
import contextlib
import logging
from contextlib import AbstractContextManager

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, Membership
from candor.matrix.events import repository as events_repo
from candor.matrix.events.filters import SyncFilter
from candor.matrix.presence.stream import PresenceStream
from candor.matrix.push import facts as push_facts
from candor.matrix.relations.bundles import bundle_served_rooms
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.matrix.rooms.facts import MembershipRecord
from candor.matrix.sync.e2ee import acknowledge_to_device, build_e2ee, key_counts_now
from candor.matrix.sync.initial import InitialRoom, InitialRooms
from candor.matrix.sync.notifier import Listener, Notifier
from candor.matrix.sync.streams import (
    AccountData,
    EphemeralStream,
    NewEvents,
    RoomsStream,
    SyncWindow,
    account_data,
)
from candor.matrix.sync.tokens import SyncToken
from candor.matrix.sync.unread import UnreadCounts
from candor.matrix.sync.window import NeedsSnapshot, StreamWindow, WindowCache
from candor.store.db import Database, NowReads

logger = logging.getLogger(__name__)
_MAX_REMEMBERED_USERS = 4096


class SyncService:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        rooms: RoomsStream,
        ephemeral: EphemeralStream,
        *,
        max_timeout_ms: int,
        presence: PresenceStream | None = None,
    ) -> None:
        self._db = db
        self._presence = presence
        self._notifier = notifier
        self._rooms = rooms
        self._ephemeral = ephemeral
        self._initial = InitialRooms(rooms)
        self._max_timeout_ms = max_timeout_ms
        # Shared by every /sync of this process: woken long-polls read a window once.
        self._windows = WindowCache()
        self._unread = UnreadCounts()
        # Answers built without a snapshot (`_build_from_window`): tests read it.
        self.window_builds = 0
        # user -> (position, their memberships there), from their last build: the
        # long-poll that follows registers with them, and the build it wakes for reuses
        # them when nothing but events of others came in between.
        self._memberships_at: LRUCache[str, tuple[int, list[MembershipRecord]]] = LRUCache(
            _MAX_REMEMBERED_USERS
        )

    async def sync(
        self,
        requester: Requester,
        since: SyncToken | None,
        timeout_ms: int,
        sync_filter: SyncFilter,
        full_state: bool,
    ) -> JsonDict:
        """The answer, waiting for it here if need be (see `start` for the parked form)."""
        outcome = await self.start(requester, since, timeout_ms, sync_filter, full_state)
        return outcome if not isinstance(outcome, LongPoll) else await outcome.finish()

    async def start(
        self,
        requester: Requester,
        since: SyncToken | None,
        timeout_ms: int,
        sync_filter: SyncFilter,
        full_state: bool,
    ) -> "JsonDict | LongPoll":
        """The answer, or a `LongPoll` when there is nothing new yet and time to wait: the
        endpoint parks that outside the request's call stack (matrix/sync/parking.py)."""
        timeout_ms = min(max(timeout_ms, 0), self._max_timeout_ms)
        if since is not None:
            await acknowledge_to_device(self._db, requester, since)
        if since is None or full_state or timeout_ms == 0:
            return await self._build(requester, since, sync_filter, full_state)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        known = self._memberships_at.get(requester.user_id)
        if known is not None and known[0] == since.position:
            joined = [m.room_id for m in known[1] if m.membership == Membership.JOIN]
            listening = self._notifier.listen(requester.user_id, joined)
            listener = listening.__enter__()
            try:
                # The rooms were read at `since`; if nothing was committed after it, they
                # are the rooms now, and this is the registration a fresh read would make.
                caught_up = await self._caught_up(since, sync_filter)
            except BaseException:
                listening.__exit__(None, None, None)
                raise
            if caught_up:
                return LongPoll(self, requester, since, sync_filter, deadline, listening, listener)
            listening.__exit__(None, None, None)
        async with self._db.read() as conn:
            rooms = await rooms_facts.joined_rooms(conn, requester.user_id)
        listening = self._notifier.listen(requester.user_id, rooms)
        listener = listening.__enter__()
        try:
            # Read after registering (the new listener's event is unset): a commit past
            # this position sets it, so skipping the first build cannot miss it.
            if await self._caught_up(since, sync_filter):
                return LongPoll(self, requester, since, sync_filter, deadline, listening, listener)
            result = await self._build(requester, since, sync_filter, False)
        except BaseException:
            listening.__exit__(None, None, None)
            raise
        if not _is_empty(result) or deadline <= loop.time():
            listening.__exit__(None, None, None)
            return result
        return LongPoll(self, requester, since, sync_filter, deadline, listening, listener)

    def _remember_memberships(
        self, user_id: str, upto: int, memberships: list[MembershipRecord]
    ) -> None:
        self._memberships_at[user_id] = (upto, memberships)

    def _unchanged_memberships(
        self, user_id: str, shared: StreamWindow | None, flt: SyncFilter
    ) -> list[MembershipRecord] | None:
        """The user's memberships as their last build read them, if they still hold at
        the end of `shared`: read at its start, and no membership event in it (only a
        member event changes a membership row; `forgotten` changes without one, so not
        with `include_leave`, the one place it matters)."""
        known = self._memberships_at.get(user_id)
        if known is None or shared is None or flt.include_leave:
            return None
        if known[0] == shared.upto:
            return known[1]  # read at the window's end (by another device of theirs)
        if known[0] != shared.after or not shared.only_events or shared.has_members:
            return None
        return known[1]

    async def _caught_up(self, since: SyncToken, flt: SyncFilter) -> bool:
        """Whether `since` is already the newest token, so a build would find nothing.

        This is the re-poll of a client that has just been answered: its window
        (since, now] is empty on every stream (events, receipts, account data, device
        lists and to-device messages share the one stream position; typing has its
        serial), so it can wait at once instead of reading every stream to learn that.
        Not with `include_leave`, whose left rooms are sent on every incremental sync.
        """
        if flt.include_leave or self._ephemeral.position() > since.typing:
            return False
        upto = self._notifier.position
        if upto is None:
            async with self._db.now() as now:
                upto = await self._position_now(now)
        # A pending to-device batch beyond the acknowledged part must still be read.
        return since.position >= upto and (since.to_device is None or since.to_device >= upto)

    async def _position_now(self, now: NowReads) -> int:
        """The committed stream position read from the database, which then vouches for
        the notifier's (`Notifier.position`)."""
        upto = await events_repo.get_stream_position_now(now)
        self._notifier.heard(upto)
        return upto

    async def _build(
        self, requester: Requester, since: SyncToken | None, flt: SyncFilter, full_state: bool
    ) -> JsonDict:
        """The response, its timeline events with their bundled aggregations."""
        typing_serial = self._ephemeral.position()
        if since is not None and not full_state:
            try:
                woken = await self._build_from_window(requester, since, flt, typing_serial)
            except NeedsSnapshot:
                woken = None
            if woken is not None:
                self.window_builds += 1
                response, shared = woken
                # Its events' children, up to the window's end, are in the window itself:
                # none relates to them, so nothing to bundle and nothing to read (a woken
                # fan-out stays free of per-listener reads).
                if shared.relation_targets:
                    await self._bundle(requester, response)
                return response
        response = await self._build_streams(requester, since, flt, full_state, typing_serial)
        await self._bundle(requester, response)
        return response

    async def _bundle(self, requester: Requester, response: JsonDict) -> None:
        """`unsigned.m.relations` on every timeline event of the response, read for all
        rooms at once (`relations/bundles.py`); nothing is read when no timeline has an
        event, and one small check when none of them has a bundled child."""
        by_room: dict[str, list[JsonDict]] = {}
        rooms = response["rooms"]
        assert isinstance(rooms, dict)  # noqa: S101 - `_build_streams` always sets it
        for section in ("join", "leave"):
            for room_id, room in rooms[section].items():
                events = room.get("timeline", {}).get("events")
                if events:
                    by_room[room_id] = events
        if by_room:
            await bundle_served_rooms(self._db, requester.user_id, by_room)

    async def _build_streams(
        self,
        requester: Requester,
        since: SyncToken | None,
        flt: SyncFilter,
        full_state: bool,
        typing_serial: int,
    ) -> JsonDict:
        async with self._db.read() as conn:
            upto = await events_repo.get_stream_position(conn)
            after = 0 if since is None else min(since.position, upto)
            w = SyncWindow(requester, since, after, upto, flt, full_state)
            shared = None
            if since is not None and not full_state:
                shared = await self._windows.get(conn, after, upto)
            memberships = self._unchanged_memberships(requester.user_id, shared, flt)
            if memberships is None:
                memberships = await rooms_facts.user_memberships(conn, requester.user_id)
            self._remember_memberships(requester.user_id, upto, memberships)
            if shared is not None:
                await self._unread.load_window(conn, shared)
            new = await self._rooms.new_events(conn, w, memberships, shared)
            if shared is not None and shared.only_events:
                # Nothing but events in the window: no receipt or account data to read.
                receipts: dict[str, JsonDict] = {}
                data = AccountData([], {})
                presence: list[JsonDict] = []
            else:
                receipts = await self._ephemeral.receipts(conn, w, [m.room_id for m in memberships])
                data = await account_data(conn, w)
                presence = await self._presence_events(conn, w)
            quiet = set(new.quiet) if not new.overflow else set()
            pre_rooms = await self._initial_rooms(conn, w, memberships)
            join: JsonDict = {}
            invite: JsonDict = {}
            leave: JsonDict = {}
            knock: JsonDict = {}
            for m in memberships:
                if not flt.rooms.allows_room(m.room_id):
                    continue
                if m.membership == Membership.JOIN:
                    room = await self._joined(
                        conn, w, m, new, receipts, data, quiet, shared, pre_rooms.get(m.room_id)
                    )
                    if room is not None:
                        join[m.room_id] = room
                elif m.membership == Membership.INVITE:
                    invited = await self._rooms.invited(conn, w, m)
                    if invited is not None:
                        invite[m.room_id] = invited
                elif m.membership in (Membership.LEAVE, Membership.BAN):
                    left = await self._rooms.left(conn, w, m)
                    if left is not None:
                        leave[m.room_id] = left
                elif m.membership == Membership.KNOCK:
                    # The same stripped state as an invite's, the knock itself included.
                    knocked = await self._rooms.invited(conn, w, m)
                    if knocked is not None:
                        knock[m.room_id] = {"knock_state": knocked["invite_state"]}
            e2ee = await build_e2ee(conn, requester, since, upto)
        response: JsonDict = {
            "next_batch": str(SyncToken(upto, typing_serial, e2ee.to_device_upto)),
            "rooms": {"join": join, "invite": invite, "leave": leave, "knock": knock},
            "account_data": {"events": data.global_events},
            "presence": {"events": presence},
        }
        e2ee.apply(response)
        return response

    async def _presence_events(self, conn: AsyncConnection, w: SyncWindow) -> list[JsonDict]:
        """The presence stream (`presence/stream.py`), when the server shares presence."""
        if self._presence is None:
            return []
        return await self._presence.events(
            conn,
            w.requester.user_id,
            initial=w.since is None or w.full_state,
            after=w.after,
            upto=w.upto,
            flt=w.flt.presence,
        )

    async def _build_from_window(
        self, requester: Requester, since: SyncToken, flt: SyncFilter, typing_serial: int
    ) -> tuple[JsonDict, StreamWindow] | None:
        """The answer without a database snapshot, when everything new is in a shared
        window: None when it is not, `NeedsSnapshot` when that shows only on the way.

        This is the long-poll woken by a message in a busy room: its window was read by
        the first listener, its memberships are the ones it registered with, its unread
        counts carry forward (`unread.py`), and the window holds no receipt, account data,
        to-device message or membership change, so those streams are empty. What remains
        per listener is the stream position and the device's key counts, two small reads
        in one `Database.now` block (on SQLite, straight on sqlite3: no pooled connection,
        no snapshot, none of SQLAlchemy's per-statement work).
        """
        if since.to_device is not None or flt.include_leave:
            return None  # a to-device batch to acknowledge past, or left rooms to send
        async with self._db.now() as now:
            return await self._answer_from_window(now, requester, since, flt, typing_serial)

    async def _answer_from_window(
        self,
        now: NowReads,
        requester: Requester,
        since: SyncToken,
        flt: SyncFilter,
        typing_serial: int,
    ) -> tuple[JsonDict, StreamWindow] | None:
        known = self._notifier.position
        upto = known if known is not None else await self._position_now(now)
        after = min(since.position, upto)
        shared = await self._windows.peek(after, upto)
        if shared is None or not shared.only_events or shared.has_members:
            # A membership change needs the snapshot: a leave or invite of the reader's
            # own, device lists, room summaries.
            return None
        memberships = self._unchanged_memberships(requester.user_id, shared, flt)
        if memberships is None:
            return None
        w = SyncWindow(requester, since, after, upto, flt, False)
        self._remember_memberships(requester.user_id, upto, memberships)
        if now.connection is not None:
            # Off SQLite, woken builds run side by side: the first to get here reads the
            # window's notification rows for all (on SQLite the first build did, inline).
            await self._unread.load_window(now.connection, shared)
        new = await self._rooms.new_events(None, w, memberships, shared)
        no_data = AccountData([], {})
        quiet = set(new.quiet)
        join: JsonDict = {}
        for m in memberships:
            if m.membership == Membership.JOIN and flt.rooms.allows_room(m.room_id):
                room = await self._joined(None, w, m, new, {}, no_data, quiet, shared)
                if room is not None:
                    join[m.room_id] = room
        e2ee = await key_counts_now(now, requester)
        response: JsonDict = {
            "next_batch": str(SyncToken(upto, typing_serial, None)),
            "rooms": {"join": join, "invite": {}, "leave": {}, "knock": {}},
            "account_data": {"events": []},
            "presence": {"events": []},
        }
        e2ee.apply(response)
        return response, shared

    async def _initial_rooms(
        self, conn: AsyncConnection, w: SyncWindow, memberships: list[MembershipRecord]
    ) -> dict[str, InitialRoom]:
        """An initial or full_state sync reads its joined rooms set-wise (`initial.py`)."""
        if not (w.since is None or w.full_state):
            return {}
        rooms = [
            m.room_id
            for m in memberships
            if m.membership == Membership.JOIN and w.flt.rooms.allows_room(m.room_id)
        ]
        return await self._initial.joined(conn, w, rooms)

    async def _joined(
        self,
        conn: AsyncConnection | None,
        w: SyncWindow,
        m: MembershipRecord,
        new: NewEvents,
        receipts: dict[str, JsonDict],
        data: AccountData,
        quiet: set[str],
        shared: StreamWindow | None,
        pre: InitialRoom | None = None,
    ) -> JsonDict | None:
        """A joined room from every stream, or None when nothing in it changed; `pre` is
        its timeline, state, counts and summary when read set-wise."""
        ephemeral = self._ephemeral.events(m.room_id, receipts, w)
        if (
            m.room_id in quiet
            and m.room_id not in new.by_room
            and not ephemeral
            and not data.by_room.get(m.room_id)
        ):
            # Joined before `since` and nothing new on any stream: its body would be empty,
            # so skip building it (most of a person's 500 rooms on each incremental sync).
            return None
        room = pre.body if pre is not None else await self._rooms.joined(conn, w, m, new)
        if ephemeral:
            room["ephemeral"] = {"events": ephemeral}
        if data.by_room.get(m.room_id):
            room["account_data"] = {"events": data.by_room[m.room_id]}
        initial = w.since is None or w.full_state
        if not (initial or _room_has_content(room)):
            return None
        room.setdefault("account_data", {"events": []})
        room.setdefault("ephemeral", {"events": []})
        user_id = w.requester.user_id
        by_thread = w.flt.unread_thread_notifications
        if pre is not None:
            room.update(push_facts.as_sync_counts(pre.unread, by_thread))
            room["summary"] = pre.summary
            return room
        unread = await self._unread.of_room(conn, m.room_id, user_id, w.upto, shared)
        room.update(push_facts.as_sync_counts(unread, by_thread))
        if initial or _has_member_events(room):
            if conn is None:
                raise NeedsSnapshot
            # The spec lets an unchanged summary be omitted.
            room["summary"] = await self._rooms.summary(conn, m.room_id, user_id)
        return room


class LongPoll:
    """A /sync that found nothing new and waits for a wake-up or its deadline.

    It holds only what the wait needs: the listener (registered before the first read, so
    nothing committed since can be missed) and the request's parameters; no database
    connection, no built answer. Parked outside the request's call stack, an idle long-poll
    costs this and uvicorn's connection, not FastAPI's and the middlewares' frames
    (issue 17: server memory per idle long-poll)."""

    __slots__ = (
        "_deadline",
        "_filter",
        "_listener",
        "_listening",
        "_requester",
        "_service",
        "_since",
    )

    def __init__(
        self,
        service: SyncService,
        requester: Requester,
        since: SyncToken,
        sync_filter: SyncFilter,
        deadline: float,
        listening: AbstractContextManager[Listener],
        listener: Listener,
    ) -> None:
        self._service = service
        self._requester = requester
        self._since = since
        self._filter = sync_filter
        self._deadline = deadline
        self._listening = listening
        self._listener = listener

    async def finish(self) -> JsonDict:
        """Wait, re-read on each wake-up, and answer with the first non-empty result (or the
        latest token, empty, at the deadline). Unregisters the listener whatever happens."""
        loop = asyncio.get_running_loop()
        event = self._listener.event
        try:
            while True:
                if not event.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(self._deadline):
                            await event.wait()
                # Clear before reading: a commit that lands during the read sets it again.
                event.clear()
                result = await self._service._build(  # the service's own poll, parked
                    self._requester, self._since, self._filter, False
                )
                if not _is_empty(result) or loop.time() >= self._deadline:
                    return result
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening (again is harmless): a long-poll that is never finished."""
        self._listening.__exit__(None, None, None)


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
    presence = result["presence"]
    assert isinstance(presence, dict)  # noqa: S101
    return not (
        rooms["join"]
        or rooms["invite"]
        or rooms["leave"]
        or rooms["knock"]
        or account_data["events"]
        or to_device["events"]
        or device_lists["changed"]
        or device_lists["left"]
        or presence["events"]
    )
