"""Receipts, read markers and typing: what a member says about their own reading of a room.

Why apart from the write path (`service.py`): none of these is a room event or runs the
room's auth rules; a member only needs to be joined. Typing lives in memory
(`sync/typing.py`) and wakes `/sync` through the notifier; a receipt is a row on the event
stream, written through the persister so it takes a stream position; `m.fully_read` is the
user's room account data.
"""

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.core.ids import RoomID, parse_event_id
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.constants import Membership
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.relations.indexer import thread_of
from candor.matrix.requester import Requester
from candor.matrix.rooms import repository as repo
from candor.matrix.sync.notifier import Notifier
from candor.matrix.sync.typing import TypingTracker
from candor.store.db import Database


class ReceiptsService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        persister: EventPersister,
        typing: TypingTracker,
        notifier: Notifier,
    ) -> None:
        self._db = db
        self._clock = clock
        self._persister = persister
        self._typing = typing
        self._notifier = notifier

    async def set_typing(
        self, requester: Requester, room_id: str, user_id: str, typing: bool, timeout_ms: int
    ) -> None:
        room_id = str(RoomID.parse(room_id))
        if user_id != requester.user_id:
            raise Forbidden("You may only set your own typing state")
        async with self._db.read() as conn:
            member = await repo.get_membership(conn, room_id, user_id)
        if member is None or member.membership != Membership.JOIN:
            raise Forbidden("You are not in this room")
        self._typing.set_typing(room_id, user_id, typing, timeout_ms)
        self._notifier.notify(rooms=[room_id])

    async def send_receipt(
        self,
        requester: Requester,
        room_id: str,
        receipt_type: str,
        event_id: str,
        thread_id: str | None,
    ) -> None:
        room_id = str(RoomID.parse(room_id))
        event_id = parse_event_id(event_id)
        if receipt_type not in ("m.read", "m.read.private", "m.fully_read"):
            raise InvalidParam("Unknown receipt type")
        if thread_id is not None and (thread_id == "" or receipt_type == "m.fully_read"):
            raise InvalidParam("thread_id must be a non-empty string, on a read receipt")
        user_id = requester.user_id

        async def work(ctx: WriteContext) -> None:
            member = await repo.get_membership(ctx.conn, room_id, user_id)
            if member is None or member.membership != Membership.JOIN:
                raise Forbidden("You are not in this room")
            target = await events_repo.get_event(ctx.conn, event_id)
            if target is None or target.room_id != room_id:
                raise NotFound("Event not found")
            if thread_id is not None and not _in_thread(target.event_id, target.content, thread_id):
                raise InvalidParam("The event is not in that thread")
            pos = ctx.next_position()
            if receipt_type == "m.fully_read":
                await accounts_facts.set_account_data(
                    ctx.conn, user_id, room_id, "m.fully_read", {"event_id": event_id}, pos
                )
                ctx.users.add(user_id)
                return
            await repo.set_receipt(
                ctx.conn,
                room_id,
                receipt_type,
                user_id,
                thread_id or "",
                event_id,
                self._clock.now_ms(),
                pos,
            )
            ctx.rooms.add(room_id)

        await self._persister.run(work)


def _in_thread(event_id: str, content: JsonDict, thread_id: str) -> bool:
    """Whether a receipt for `thread_id` ("main" or a root's id) may point at the event
    (spec: 400 when "the event_id is not related to the thread_id"). A thread's root is
    in the main timeline and may start its thread's receipts too; an edit or a reaction
    is in its parent's thread, which its content does not tell: accepted for any."""
    thread = thread_of(content)
    if thread is None:
        return True
    if thread_id == "main":
        return thread == ""
    return thread == thread_id or event_id == thread_id
