"""The event persister: the single writer of everything /sync streams.

Concurrent writes (messages, state, membership, receipts) queue here and run in batches,
one database transaction per batch, so a burst of sends costs one fsync instead of one per
message (group commit) while every caller is answered only after its commit is durable.
Each work item runs in its own savepoint: an item that raises (bad input, auth failure)
leaves no trace and does not disturb the others. Stream positions are handed out inside
the batch under a lock (in-process on SQLite, an advisory lock on PostgreSQL), so they
are assigned in commit order and a /sync reader can never skip a late commit.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.tokens import random_string
from candor.matrix.constants import EventType
from candor.matrix.errors import NotFound
from candor.matrix.events import repository as repo
from candor.matrix.events.model import NewEvent, StoredEvent
from candor.matrix.sync.notifier import Notifier
from candor.store.db import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")
_ADVISORY_KEY = 0x43414E44  # "CAND"
_MAX_BATCH = 256


@dataclass
class WriteContext:
    """What a work item may touch: the batch's connection and the position counter."""

    conn: AsyncConnection
    clock: Clock
    _persister: "EventPersister"
    rooms: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)

    def next_position(self) -> int:
        return self._persister._claim_position()

    async def append(self, new: NewEvent) -> StoredEvent:
        """Append an event to its room: id, position, prev event, current state, txn id."""
        head = await repo.get_room_head(self.conn, new.room_id)
        if head is None:
            raise NotFound("Unknown room")
        prev_id, depth = head
        prev_content = None
        if new.state_key is not None:
            old = await repo.get_current_state_event(
                self.conn, new.room_id, new.type, new.state_key
            )
            prev_content = old.content if old is not None else None
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
            prev_content=prev_content,
            txn_device=new.txn[0] if new.txn else None,
            txn_id=new.txn[2] if new.txn else None,
        )
        await repo.add_event(self.conn, ev, depth + 1, prev_id)
        await repo.set_room_head(self.conn, new.room_id, ev.event_id, depth + 1)
        if ev.state_key is not None:
            await repo.set_current_state(self.conn, ev)
            if ev.type == EventType.MEMBER:
                await repo.set_membership(self.conn, ev, str(ev.content.get("membership")))
                self.users.add(ev.state_key)
        if new.txn is not None:
            # The primary key of event_txns closes the race between two retries.
            await repo.add_txn(self.conn, new.sender, new.txn, ev.event_id, ev.origin_server_ts)
        self.rooms.add(new.room_id)
        return ev


WorkFn = Callable[[WriteContext], Awaitable[Any]]


class _NothingToCommit(Exception):
    """A lone work item failed: roll the batch back instead of committing nothing."""


@dataclass
class _Item:
    work: WorkFn
    future: "asyncio.Future[Any]"


class EventPersister:
    def __init__(self, db: Database, clock: Clock, notifier: Notifier) -> None:
        self._db = db
        self._clock = clock
        self._notifier = notifier
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._position = 0
        self.batches = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-persister")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self, work: Callable[[WriteContext], Awaitable[T]]) -> T:
        """Run `work` inside the next batch; returns once its writes are committed."""
        if self._task is None:
            raise RuntimeError("persister not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(work, future))
        return await future

    def _claim_position(self) -> int:
        self._position += 1
        return self._position

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
                for item in items:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _run_batch(self, items: list[_Item]) -> None:
        results: list[tuple[_Item, bool, Any]] = []
        ctx: WriteContext | None = None
        try:
            async with self._db.write() as conn:
                await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
                start = await repo.get_stream_position(conn)
                self._position = start
                ctx = WriteContext(conn, self._clock, self)
                for item in items:
                    results.append(await self._run_item(ctx, item, savepoint=len(items) > 1))
                if len(items) == 1 and not results[0][1]:
                    raise _NothingToCommit
                if self._position != start:
                    await repo.set_stream_position(conn, self._position)
        except _NothingToCommit:
            pass
        self.batches += 1
        assert ctx is not None  # noqa: S101 - set on the first line of the block
        self._notifier.notify(rooms=ctx.rooms, users=ctx.users)
        for item, ok, value in results:
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    @staticmethod
    async def _run_item(
        ctx: WriteContext, item: _Item, *, savepoint: bool
    ) -> tuple[_Item, bool, Any]:
        if not savepoint:
            try:
                return item, True, await item.work(ctx)
            except CandorError as exc:
                return item, False, exc
        nested = await ctx.conn.begin_nested()
        try:
            value = await item.work(ctx)
        except CandorError as exc:
            await nested.rollback()
            return item, False, exc
        except Exception as exc:
            logger.exception("event work item failed")
            await nested.rollback()
            return item, False, exc
        await nested.commit()
        return item, True, value
