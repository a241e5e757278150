"""Presence: set your own, read a room-mate's, and mark yourself online by syncing.

Why through the event persister: a change of what others see (state or status message)
takes a position of the one stream counter in the same transaction as its row, so /sync
reads presence like every other stream, as a range of positions, and the persister's
wake-up (local notifier, and NOTIFY to the other workers with PostgreSQL) reaches the
long-polls of the rooms the person is joined to: exactly the people who may see it.
Activity alone (a re-poll) only moves `last_active_ts`, at most once a minute per person,
without a position: nobody is woken for it. Going idle or offline is worked out when
read (`rules.py`). With `presence.enabled` off nothing is stored and nothing is shared.
"""

from cachetools import LRUCache

from candor.config import PresenceSettings
from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.core.ids import UserID
from candor.matrix.errors import Forbidden, InvalidParam
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.presence import repository as repo
from candor.matrix.presence.rules import (
    ACTIVITY_GRANULARITY_MS,
    PRESENCE_STATES,
    PresenceState,
    StoredPresence,
    Thresholds,
    is_change,
    presence_content,
)
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.store.db import Database

_MAX_REMEMBERED = 16_384
# Unchanged: keep the status message the person set (a /sync sets the state only).
_KEEP = object()


def thresholds_of(settings: PresenceSettings) -> Thresholds:
    return Thresholds(settings.idle_after_ms, settings.offline_after_ms)


class PresenceService:
    def __init__(
        self, db: Database, clock: Clock, persister: EventPersister, settings: PresenceSettings
    ) -> None:
        self._db = db
        self._clock = clock
        self._persister = persister
        self.enabled = settings.enabled
        self._thresholds = thresholds_of(settings)
        # user -> (state their /sync last wrote or confirmed, when): a re-poll within a
        # minute of the last write costs no database work. Per worker; a state set on
        # another worker since is corrected by the next write after that minute.
        self._confirmed: LRUCache[str, tuple[str, int]] = LRUCache(_MAX_REMEMBERED)

    async def get_status(self, requester: Requester, user_id: str) -> JsonDict:
        """A person's presence, for themselves and for those who share a joined room with
        them; anyone else is refused (M_FORBIDDEN, whether or not the person exists).
        Disabled: `offline` for anyone, as Synapse answers with `use_presence` off."""
        target = str(UserID.parse(user_id))
        if not self.enabled:
            return {"presence": PresenceState.OFFLINE.value}
        async with self._db.read() as conn:
            if target != requester.user_id and not await repo.shares_room(
                conn, requester.user_id, target
            ):
                raise Forbidden("You are not allowed to see their presence")
            row = await repo.get_presence(conn, target)
        return presence_content(row, self._clock.now_ms(), self._thresholds)

    async def set_status(
        self, requester: Requester, user_id: str, presence: str, status_msg: str | None
    ) -> None:
        """Set your own presence (someone else's: M_FORBIDDEN). Disabled: accepted and
        ignored, so clients that always send it keep working."""
        target = str(UserID.parse(user_id))
        if target != requester.user_id:
            raise Forbidden("You may only set your own presence")
        state = _state(presence, "presence")
        if not self.enabled:
            return
        self._confirmed.pop(target, None)
        await self._write(target, state, status_msg)

    async def on_sync(self, requester: Requester, set_presence: str | None) -> None:
        """/sync's `set_presence`: omitted or `online` marks the person online,
        `unavailable` idle, `offline` leaves their presence as it is."""
        state = (
            PresenceState.ONLINE if set_presence is None else _state(set_presence, "set_presence")
        )
        if not self.enabled or state == PresenceState.OFFLINE:
            return
        user_id = requester.user_id
        now = self._clock.now_ms()
        confirmed = self._confirmed.get(user_id)
        if (
            confirmed is not None
            and confirmed[0] == state
            and now - confirmed[1] < ACTIVITY_GRANULARITY_MS
        ):
            return
        await self._write(user_id, state, _KEEP, from_sync=True)
        self._confirmed[user_id] = (state.value, now)

    async def _write(
        self, user_id: str, state: PresenceState, status_msg: object, *, from_sync: bool = False
    ) -> None:
        """Record the state (and activity now); a change takes a position and wakes the
        person's rooms and their own other /syncs.

        A /sync asking for `unavailable` does not turn a person who was online within the
        last minute idle: with one device syncing `online` and another `unavailable`, each
        change would wake the other device's long-poll, whose re-poll changes it back, for
        ever. The online device wins until it goes quiet (as Synapse, which takes the most
        online of a person's devices)."""
        thresholds = self._thresholds

        async def work(ctx: WriteContext) -> None:
            now = ctx.clock.now_ms()
            row = await repo.get_presence(ctx.conn, user_id)
            if (
                from_sync
                and state == PresenceState.UNAVAILABLE
                and row is not None
                and row.state == PresenceState.ONLINE
                and now - row.last_active_ts < ACTIVITY_GRANULARITY_MS
            ):
                return
            if status_msg is _KEEP:
                msg = row.status_msg if row is not None else None
            else:
                msg = status_msg if isinstance(status_msg, str) else None
            if is_change(row, state, msg, now, thresholds):
                new = StoredPresence(user_id, state.value, msg, now, ctx.next_position())
                await repo.set_presence(ctx.conn, new)
                ctx.rooms.update(await rooms_facts.joined_rooms(ctx.conn, user_id))
                ctx.users.add(user_id)
            elif row is not None and now - row.last_active_ts >= ACTIVITY_GRANULARITY_MS:
                await repo.set_last_active(ctx.conn, user_id, now)

        await self._persister.run(work, savepoint=False)


def _state(raw: str, name: str) -> PresenceState:
    if raw not in PRESENCE_STATES:
        raise InvalidParam(f"Invalid {name}: must be one of online, unavailable, offline")
    return PresenceState(raw)
