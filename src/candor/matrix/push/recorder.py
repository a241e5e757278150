"""Recording notifications on the send path, in the event's own transaction.

The event persister calls `NotificationRecorder.appended` for every event it appends,
inside the work item (`events/persister.py`, `AppendObserver`), so an event and its
notifications commit together or not at all: an acknowledged message never lacks its
notifications or its queued pushes, and a failed one leaves none. Rejected alternative:
recording right after the commit, which would need its own durable queue to survive a
crash between the two.

What it costs the send path, and how that stays small: each member's compiled ruleset is
cached (the many who keep the defaults share one object, `evaluate.py`), rooms' members
with their display names are cached against the persister's room state (rebuilt only when
a member event changes it), members missing from the cache are read in one query for all
of them, and the outcome is written as one baseline row per event plus a row only for each
member whose outcome differs (`store/models/push.py`). Caches are emptied whenever the
persister distrusts its own (another writer, a failed batch), and a user's entry whenever
their rules or pushers change (those changes run as persister items too, so the order of
change and evaluation is the commit order).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, Membership
from candor.matrix.events.model import StoredEvent
from candor.matrix.events.persister import RoomState, WriteContext
from candor.matrix.push import repository as repo
from candor.matrix.push.evaluate import (
    NO_NOTIFY,
    CompiledRuleset,
    EventView,
    Group,
    Outcome,
    Recipient,
    RoomContext,
    compile_ruleset,
    evaluate,
    evaluate_group,
)
from candor.matrix.push.rules import merge_ruleset
from candor.matrix.relations.indexer import thread_of
from candor.matrix.rooms.rules import AuthState

logger = logging.getLogger(__name__)

MAX_CACHED_USERS = 100_000
MAX_CACHED_ROOMS = 4096


@dataclass(frozen=True, slots=True)
class _UserPush:
    ruleset: CompiledRuleset
    pushers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Partition:
    """A room's members by how they are evaluated: those who keep the defaults (one group),
    the others with their own rulesets, and who has pushers. Valid for one room state and
    one generation of the users cache."""

    members: "_Members"
    generation: int
    defaults: Group
    custom: tuple[tuple[Recipient, CompiledRuleset], ...]
    pushers: dict[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Members:
    auth: AuthState  # the room state these were read from (compared by identity)
    joined: tuple[Recipient, ...]
    by_id: dict[str, Recipient]
    levels: dict[str, int]  # m.room.power_levels' `notifications`


def _as_level(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _client_event(ev: StoredEvent) -> JsonDict:
    out: JsonDict = {
        "type": ev.type,
        "content": ev.content,
        "sender": ev.sender,
        "room_id": ev.room_id,
        "event_id": ev.event_id,
        "origin_server_ts": ev.origin_server_ts,
    }
    if ev.state_key is not None:
        out["state_key"] = ev.state_key
    return out


def _normal(outcome: Outcome) -> Outcome:
    """Every outcome that does not notify is the same outcome: nothing is recorded."""
    return outcome if outcome.notify else NO_NOTIFY


class NotificationRecorder:
    """The persister's observer for push: evaluate, record, queue gateway deliveries."""

    def __init__(self, on_queued: Callable[[], None] | None = None) -> None:
        self._default = compile_ruleset(merge_ruleset(None, [], []))
        self._users: dict[str, _UserPush] = {}
        self._rooms: dict[str, _Members] = {}
        self._partitions: dict[str, _Partition] = {}
        # Bumped whenever a cached user entry appears or goes: partitions built before are stale.
        self._generation = 0
        self._queued = False
        self._on_queued = on_queued
        # Rows kept for one insert per table per batch (`before_commit`): the batch's so far,
        # and where the current item's begin (an item rolled back takes its rows with it).
        self._baselines: list[dict[str, object]] = []
        self._exceptions: list[dict[str, object]] = []
        self._deliveries: list[dict[str, object]] = []
        self._item_start = (0, 0, 0)

    def set_on_queued(self, callback: Callable[[], None]) -> None:
        """What to call after a commit that queued gateway deliveries (the worker's wake)."""
        self._on_queued = callback

    # --- the persister's observer protocol ------------------------------------------------

    async def appended(self, ctx: WriteContext, ev: StoredEvent, room: RoomState) -> None:
        if ev.type == EventType.MEMBER and ev.state_key is not None:
            await self._track_membership(ctx.conn, ev)
        members = self._members(ev.room_id, room)
        outsider = self._invitee(ev, members)
        if len(members.joined) < 2 and outsider is None:
            return  # nobody but the sender
        part = await self._partition(ctx.conn, ev.room_id, members)
        view = EventView(
            _client_event(ev),
            RoomContext(
                member_count=len(members.joined),
                sender_level=room.auth.user_level(ev.sender),
                notification_levels=members.levels,
            ),
        )
        # The sender is evaluated with the others (it costs nothing in a group) and then
        # left out: nobody is notified of their own events.
        rest, singled = evaluate_group(self._default, view, part.defaults)
        baseline = _normal(rest)
        outcomes = {u: _normal(o) for u, o in singled.items() if u != ev.sender}
        for r, ruleset in part.custom:
            if r.user_id != ev.sender:
                outcomes[r.user_id] = _normal(evaluate(ruleset, view, r))
        pushers = part.pushers
        outsiders: tuple[str, ...] = ()
        if outsider is not None:
            (loaded,) = (await self._load(ctx.conn, [outsider.user_id])).values()
            outcome = _normal(evaluate(loaded.ruleset, view, outsider))
            if outcome.notify:
                outcomes[outsider.user_id] = outcome
                outsiders = (outsider.user_id,)
                pushers = {**pushers, outsider.user_id: loaded.pushers}
        self._record(ctx, ev, baseline, outcomes, pushers, outsiders)

    def item_done(self, ok: bool) -> None:
        if not ok:
            b, e, d = self._item_start
            del self._baselines[b:], self._exceptions[e:], self._deliveries[d:]
        self._item_start = (len(self._baselines), len(self._exceptions), len(self._deliveries))

    async def before_commit(self, ctx: WriteContext) -> None:
        baselines, exceptions, deliveries = self._baselines, self._exceptions, self._deliveries
        self._forget_pending()
        await repo.add_baselines(ctx.conn, baselines)
        await repo.add_exceptions(ctx.conn, exceptions)
        await repo.add_deliveries(ctx.conn, deliveries)
        if deliveries:
            self._queued = True

    def _forget_pending(self) -> None:
        self._baselines, self._exceptions, self._deliveries = [], [], []
        self._item_start = (0, 0, 0)

    def distrust(self) -> None:
        self._forget_pending()
        self._users.clear()
        self._rooms.clear()
        self._partitions.clear()
        self._generation += 1

    def committed(self) -> None:
        if self._queued:
            self._queued = False
            if self._on_queued is not None:
                self._on_queued()

    # --- what changes call ----------------------------------------------------------------

    def forget(self, user_id: str) -> None:
        """Drop the user's cached rules and pushers (call inside the persister item that
        changes them, so the next evaluation reads the new ones)."""
        if self._users.pop(user_id, None) is not None:
            self._generation += 1

    # --- internals ------------------------------------------------------------------------

    def _members(self, room_id: str, room: RoomState) -> _Members:
        cached = self._rooms.get(room_id)
        if cached is not None and cached.auth is room.auth:
            return cached
        joined = []
        for user_id, membership in room.auth.memberships.items():
            if membership == Membership.JOIN:
                event = room.state.get((EventType.MEMBER, user_id))
                name = event.content.get("displayname") if event is not None else None
                joined.append(Recipient.of(user_id, name))
        levels: dict[str, int] = {}
        power = room.auth.power_levels or {}
        notifications = power.get("notifications")
        if isinstance(notifications, dict):
            for key, value in notifications.items():
                level = _as_level(value)
                if level is not None:
                    levels[key] = level
        members = _Members(room.auth, tuple(joined), {r.user_id: r for r in joined}, levels)
        self._rooms[room_id] = members
        if len(self._rooms) > MAX_CACHED_ROOMS:
            self._rooms.pop(next(iter(self._rooms)))
        return members

    async def _partition(
        self, conn: AsyncConnection, room_id: str, members: _Members
    ) -> _Partition:
        part = self._partitions.get(room_id)
        if part is not None and part.members is members and part.generation == self._generation:
            return part
        users = await self._load(conn, [r.user_id for r in members.joined])
        defaults: list[Recipient] = []
        custom: list[tuple[Recipient, CompiledRuleset]] = []
        pushers: dict[str, tuple[int, ...]] = {}
        for r in members.joined:
            user = users[r.user_id]
            if user.ruleset is self._default:
                defaults.append(r)
            else:
                custom.append((r, user.ruleset))
            if user.pushers:
                pushers[r.user_id] = user.pushers
        part = _Partition(members, self._generation, Group(defaults), tuple(custom), pushers)
        self._partitions[room_id] = part
        if len(self._partitions) > MAX_CACHED_ROOMS:
            self._partitions.pop(next(iter(self._partitions)))
        return part

    @staticmethod
    def _invitee(ev: StoredEvent, members: _Members) -> Recipient | None:
        """The user an invite is for: not a member, but `.m.rule.invite_for_me` is theirs."""
        if (
            ev.type != EventType.MEMBER
            or ev.state_key is None
            or ev.state_key == ev.sender
            or ev.content.get("membership") != Membership.INVITE
            or ev.state_key in members.by_id
        ):
            return None
        return Recipient.of(ev.state_key, None)

    async def _load(self, conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, _UserPush]:
        """Every user's cached rules and pushers; the missing ones in one read for all."""
        missing = [u for u in user_ids if u not in self._users]
        if missing:
            rules, settings = await repo.list_rules(conn, missing)
            pushers = await repo.list_pusher_ids(conn, missing)
            for user_id in missing:
                if user_id in rules or user_id in settings:
                    ruleset = compile_ruleset(
                        merge_ruleset(None, rules.get(user_id, []), settings.get(user_id, []))
                    )
                else:
                    ruleset = self._default
                self._users[user_id] = _UserPush(ruleset, pushers.get(user_id, ()))
            while len(self._users) > MAX_CACHED_USERS:
                self._users.pop(next(iter(self._users)))
            self._generation += 1
        return {u: self._users[u] for u in user_ids}

    async def _track_membership(self, conn: AsyncConnection, ev: StoredEvent) -> None:
        """Keep `push_memberships`: a stretch of joined membership opens at a join from
        anything else and closes at any change away from join."""
        assert ev.state_key is not None  # noqa: S101 - the caller checked
        now = ev.content.get("membership")
        before = ev.prev_content.get("membership") if ev.prev_content is not None else None
        if now == Membership.JOIN and before != Membership.JOIN:
            await repo.open_spell(conn, ev.state_key, ev.room_id, ev.stream_pos)
        elif now != Membership.JOIN and before == Membership.JOIN:
            await repo.close_spell(conn, ev.state_key, ev.room_id, ev.stream_pos)

    def _record(
        self,
        ctx: WriteContext,
        ev: StoredEvent,
        baseline: Outcome,
        outcomes: dict[str, Outcome],
        pushers: dict[str, tuple[int, ...]],
        outsiders: tuple[str, ...],
    ) -> None:
        """Keep the baseline row, a row per member whose outcome differs (and per notified
        outsider: the baseline covers members only) and a queue row per pusher of each
        notified user, for `before_commit`."""
        pos = ev.stream_pos
        # Notifications count by thread (`counting.py`). An edit or a reaction counts in the
        # main timeline: neither notifies under the default rules, and its parent's thread
        # would cost a read on the send path.
        thread = thread_of(ev.content) or ""
        if baseline.notify:
            self._baselines.append(
                {
                    "stream_pos": pos,
                    "room_id": ev.room_id,
                    "sender": ev.sender,
                    "highlight": baseline.highlight,
                    "actions": baseline.actions,
                    "thread_id": thread,
                }
            )
        self._exceptions.extend(
            {
                "user_id": user_id,
                "stream_pos": pos,
                "room_id": ev.room_id,
                "notify": outcome.notify,
                "highlight": outcome.highlight,
                "actions": outcome.actions,
                "thread_id": thread,
            }
            for user_id, outcome in outcomes.items()
            if outcome != baseline or user_id in outsiders
        )
        if not pushers:
            return
        now = ctx.clock.now_ms()
        for user_id, ids in pushers.items():
            outcome = outcomes.get(user_id, baseline) if user_id != ev.sender else NO_NOTIFY
            if outcome.notify:
                self._deliveries.extend(
                    {
                        "pusher_id": pusher_id,
                        "user_id": user_id,
                        "room_id": ev.room_id,
                        "stream_pos": pos,
                        "highlight": outcome.highlight,
                        "actions": outcome.actions,
                        "attempts": 0,
                        "next_attempt_ts": now,
                        "created_ts": now,
                    }
                    for pusher_id in ids
                )
