"""The event persister: the single writer of everything /sync streams.

Concurrent writes (messages, state, membership, receipts) queue here and run in batches,
one database transaction per batch, so a burst of sends costs one fsync instead of one per
message (group commit) while every caller is answered only after its commit is durable.
An item that may fail after writing runs in its own savepoint, so a failure (bad input,
an auth rule) leaves no trace and does not disturb the others. Stream positions are handed
out inside the batch under a lock (in-process on SQLite, an advisory lock on PostgreSQL),
so they are assigned in commit order and a /sync reader can never skip a late commit.

Because this is the only writer of room state, it keeps each active room's current state
and head in memory (`RoomState`), which makes an ordinary send two statements. The cache
is trusted only while the stream position at the start of a batch is the one this
persister committed last; after another writer (another worker), the rooms it wrote to
are dropped from it.
"""

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.tokens import random_string
from candor.matrix.constants import EventType, Membership
from candor.matrix.errors import NotFound
from candor.matrix.events import repository as repo
from candor.matrix.events.model import NewEvent, StoredEvent
from candor.matrix.rooms.rules import AuthState, auth_state_from
from candor.matrix.sync.notifier import Notifier
from candor.store.db import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
_ADVISORY_KEY = 0x43414E44  # "CAND"
_MAX_BATCH = 256
_MAX_CACHED_ROOMS = 2048
# Positions another writer may have used before the cache is dropped whole, not per room.
_MAX_CATCH_UP = 4096
# State copied onto the room's row (the column is named as the content key), so the user
# directory and the published room list can ask "is this room public?" in SQL.
_ROOM_RULES: dict[str, str] = {
    EventType.JOIN_RULES: "join_rule",
    EventType.HISTORY_VISIBILITY: "history_visibility",
}


@dataclass
class RoomState:
    """A room's head and full current state, as of the persister's last write."""

    head_id: str | None
    depth: int
    state: dict[tuple[str, str], StoredEvent]
    auth: AuthState

    @classmethod
    def build(cls, head_id: str | None, depth: int, events: list[StoredEvent]) -> "RoomState":
        state = {(e.type, e.state_key or ""): e for e in events}
        return cls(head_id, depth, state, _auth_of(state))

    def apply(self, ev: StoredEvent) -> None:
        self.head_id = ev.event_id
        self.depth += 1
        if ev.state_key is not None:
            self.state[(ev.type, ev.state_key)] = ev
            if ev.type in (EventType.CREATE, EventType.POWER_LEVELS, EventType.JOIN_RULES):
                self.auth = _auth_of(self.state)
            elif ev.type == EventType.MEMBER:
                memberships = dict(self.auth.memberships)
                memberships[ev.state_key] = str(ev.content.get("membership", Membership.LEAVE))
                self.auth = AuthState(
                    self.auth.creator, self.auth.power_levels, self.auth.join_rule, memberships
                )


def _auth_of(state: dict[tuple[str, str], StoredEvent]) -> AuthState:
    return auth_state_from((e.type, e.state_key, e.sender, e.content) for e in state.values())


@dataclass
class WriteContext:
    """What a work item may touch: the batch's connection, room states, the counter."""

    conn: AsyncConnection
    clock: Clock
    _persister: "EventPersister"
    rooms: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    # Rooms this item appended to, so a failed item's cached effects can be dropped.
    item_rooms: set[str] = field(default_factory=set)
    item_writes: int = 0

    @property
    def position(self) -> int:
        """The last stream position this batch took so far (the batch's, at its commit)."""
        return self._persister._position

    def next_position(self) -> int:
        self.item_writes += 1
        return self._persister._claim_position()

    async def room_state(self, room_id: str) -> RoomState:
        """The room's current state (cached); NotFound for an unknown room."""
        return await self._persister._room_state(self.conn, room_id)

    async def auth_state(self, room_id: str) -> AuthState:
        return (await self.room_state(room_id)).auth

    def forget_room(self, room_id: str) -> None:
        """Drop a room from the cache after a change made outside `append` (redaction)."""
        self._persister._rooms.pop(room_id, None)

    async def append(self, new: NewEvent) -> StoredEvent:
        """Append an event to its room: id, position, prev event, current state, txn id."""
        room = await self.room_state(new.room_id)
        old = room.state.get((new.type, new.state_key)) if new.state_key is not None else None
        self.item_rooms.add(new.room_id)
        ev = StoredEvent(
            stream_pos=self.next_position(),
            event_id="$" + random_string(32),
            room_id=new.room_id,
            type=new.type,
            state_key=new.state_key,
            sender=new.sender,
            origin_server_ts=self.clock.now_ms(),
            content=new.content,
            redacts=new.redacts,
            prev_content=old.content if old is not None else None,
            replaces_state=old.event_id if old is not None else None,
            prev_sender=old.sender if old is not None else None,
            txn_device=new.txn[0] if new.txn else None,
            txn_scope=new.txn[1] if new.txn else None,
            txn_id=new.txn[2] if new.txn else None,
        )
        await repo.add_event(self.conn, ev, room.depth + 1, room.head_id)
        if ev.state_key is not None:
            await repo.set_current_state(self.conn, ev)
            if ev.type == EventType.MEMBER:
                await repo.set_membership(self.conn, ev, str(ev.content.get("membership")))
                self.users.add(ev.state_key)
            elif ev.type in _ROOM_RULES and ev.state_key == "":
                await repo.set_room_rule(self.conn, ev.room_id, _ROOM_RULES[ev.type], ev.content)
        room.apply(ev)
        self.rooms.add(new.room_id)
        for observer in self._persister._observers:
            await observer.appended(self, ev, room)
        return ev


WorkFn = Callable[[WriteContext], Awaitable[object]]


class AppendObserver(Protocol):
    """Work that belongs in the transaction of every appended event (push notifications).

    `appended` runs inside the item that appended `ev`, after the room's cached state took
    it in. Writes it makes there, or keeps for `before_commit` (one statement for the
    whole batch), commit or roll back with the event: `item_done(ok=False)` says the
    item's savepoint was rolled back, so what it kept for that item must go. `distrust`
    says the persister's caches were dropped (another writer committed, or a batch
    failed): anything cached or kept from this persister's transactions may be wrong.
    `committed` follows a batch's commit.
    """

    async def appended(self, ctx: WriteContext, ev: StoredEvent, room: RoomState) -> None: ...

    def item_done(self, ok: bool) -> None: ...

    async def before_commit(self, ctx: WriteContext) -> None: ...

    def distrust(self) -> None: ...

    def committed(self) -> None: ...


class _NothingToCommitError(Exception):
    """A lone work item failed: roll the batch back instead of committing nothing."""


class _UnsafeFailureError(Exception):
    """An item without a savepoint failed after writing: the whole batch must roll back."""


@dataclass
class _Item:
    work: WorkFn
    # Any: items of every result type share the queue; `run` gives each caller its own T.
    future: "asyncio.Future[Any]"
    savepoint: bool


class EventPersister:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        notifier: Notifier,
        observers: Sequence[AppendObserver] = (),
    ) -> None:
        self._db = db
        self._clock = clock
        self._notifier = notifier
        self._observers = tuple(observers)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._position = 0
        self._rooms: OrderedDict[str, RoomState] = OrderedDict()
        self._cache_valid_at: int | None = None
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-persister")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(
        self, work: Callable[[WriteContext], Awaitable[T]], *, savepoint: bool = True
    ) -> T:
        """Run `work` inside the next batch; returns once its writes are committed.

        `savepoint=False` is a promise that `work` raises only before its first write
        (checks first, then writes), which saves two statements per item.
        """
        if self._task is None:
            raise RuntimeError("persister not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(work, future, savepoint))
        return await future

    def _forget_cached(self) -> None:
        self._rooms.clear()
        self._cache_valid_at = None
        for observer in self._observers:
            observer.distrust()

    async def _catch_up(self, conn: AsyncConnection, start: int) -> None:
        """Another writer (a worker) committed since this persister's last batch: forget the
        cached state of the rooms it wrote to, and keep the rest.

        Room state changes only by events appended here, under the lock, so a room with no
        event in (valid, start] is unchanged. With several workers taking turns, dropping
        every room on each foreign batch made each batch re-read the state of the room it
        wrote to (issue 17: two workers slower than one). Observers keep their own caches
        and are told to distrust them all; an unknown or long gap forgets everything.
        """
        valid = self._cache_valid_at
        if valid is None or start < valid or start - valid > _MAX_CATCH_UP:
            self._forget_cached()
            return
        for room_id in await repo.rooms_written_between(conn, valid, start):
            self._rooms.pop(room_id, None)
        for observer in self._observers:
            observer.distrust()

    def _claim_position(self) -> int:
        self._position += 1
        return self._position

    async def _room_state(self, conn: AsyncConnection, room_id: str) -> RoomState:
        room = self._rooms.get(room_id)
        if room is not None:
            self._rooms.move_to_end(room_id)
            return room
        head = await repo.get_room_head(conn, room_id)
        if head is None:
            raise NotFound("Unknown room")
        room = RoomState.build(head[0], head[1], await repo.list_current_state(conn, room_id))
        self._rooms[room_id] = room
        while len(self._rooms) > _MAX_CACHED_ROOMS:
            self._rooms.popitem(last=False)
        return room

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty() and len(items) < _MAX_BATCH:
                items.append(self._queue.get_nowait())
            try:
                await self._run_batch(items)
            except asyncio.CancelledError:
                for item in items:
                    if not item.future.done():
                        item.future.cancel()
                raise
            except Exception as exc:
                logger.exception("event batch of %d failed", len(items))
                self._forget_cached()
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _run_batch(self, items: list[_Item]) -> None:
        # Any: (item, ok, its result or the exception it raised), for its future.
        results: list[tuple[_Item, bool, Any]] = []
        ctx: WriteContext | None = None
        committed = True
        try:
            async with self._db.write() as conn:
                await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
                start = await repo.get_stream_position(conn)
                if start != self._cache_valid_at:
                    await self._catch_up(conn, start)
                self._position = start
                ctx = WriteContext(conn, self._clock, self)
                lone = len(items) == 1
                for item in items:
                    result = await self._run_item(ctx, item, lone=lone)
                    results.append(result)
                    for observer in self._observers:
                        observer.item_done(result[1])
                if lone and not results[0][1]:
                    raise _NothingToCommitError
                for observer in self._observers:
                    await observer.before_commit(ctx)
                if self._position != start:
                    await repo.set_stream_position(conn, self._position)
        except _NothingToCommitError:
            # Rolled back; the failed item may have touched cached rooms.
            self._forget_cached()
            committed = False
        self._cache_valid_at = self._position if committed else None
        self.batches += 1
        if committed:
            for observer in self._observers:
                observer.committed()
        assert ctx is not None  # noqa: S101 - set on the first lines of the block
        self._notifier.notify(
            rooms=ctx.rooms, users=ctx.users, position=self._position if committed else None
        )
        for item, ok, value in results:
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    async def _run_item(
        self, ctx: WriteContext, item: _Item, *, lone: bool
    ) -> tuple[_Item, bool, Any]:  # Any: as in `results` above
        """Run one item; a lone item needs no savepoint (its failure rolls back the batch)."""
        ctx.item_rooms = set()
        ctx.item_writes = 0
        if lone or not item.savepoint:
            try:
                return item, True, await item.work(ctx)
            except CandorError as exc:
                if ctx.item_writes and not lone:
                    raise _UnsafeFailureError from exc
                return item, False, exc
        nested = await ctx.conn.begin_nested()
        try:
            value = await item.work(ctx)
        except Exception as exc:
            if not isinstance(exc, CandorError):
                logger.exception("event work item failed")
            await nested.rollback()
            for room_id in ctx.item_rooms:
                self._rooms.pop(room_id, None)
            return item, False, exc
        await nested.commit()
        return item, True, value
