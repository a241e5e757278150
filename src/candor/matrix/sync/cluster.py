"""The notifier of a multi-worker deployment: wake-ups and cache invalidations reach every
worker through PostgreSQL LISTEN/NOTIFY (`store/broadcast.py`).

Why one channel for everything: each message is one kind letter and a small body, and the
cases are few and fixed: the rooms and users a persister batch touched (`w`, sent inside
the batch's transaction, so it arrives exactly when the batch commits, one message per
batch however many events, split in several rather than becoming a wake-all when its
rooms do not fit one), a user whose tokens were revoked (`k`), a typing change (`t`),
a finished media upload (`m`) and wake-everyone (`*`, also what a message too long for
NOTIFY becomes). If the listening connection was lost, this worker may have missed
messages: it drops its token cache and wakes every waiter, which re-read the database.
SQLite deployments are one process and keep the plain `Notifier`.
"""

import json
import logging
from collections.abc import Callable
from typing import Protocol

from candor.matrix.events.model import StoredEvent
from candor.matrix.events.persister import RoomState, WriteContext
from candor.matrix.sync.notifier import Notifier
from candor.store.broadcast import MAX_PAYLOAD, WAKE_ALL, PgBroadcast
from candor.store.db import Database

logger = logging.getLogger(__name__)

WAKE = "w"
TOKENS = "k"
TYPING = "t"
MEDIA = "m"


class _TokenCache(Protocol):
    on_forget: Callable[[str], None] | None

    def forget_local(self, user_id: str) -> None: ...

    def clear(self) -> None: ...


class _Typing(Protocol):
    on_change: Callable[[str, str, int, int], None] | None

    def apply(self, room_id: str, user_id: str, until_ms: int, serial: int) -> None: ...


class _Media(Protocol):
    on_uploaded: Callable[[], None] | None

    def wake_downloads(self) -> None: ...


class ClusterNotifier(Notifier):
    """`Notifier` whose persister commits, token revocations and typing reach all workers."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.broadcast = PgBroadcast(db, self._dispatch, self._reset)
        self._handlers: dict[str, Callable[[str], None]] = {
            WAKE: self._wake_remote,
            WAKE_ALL: lambda _body: self.wake_all(),
        }
        self._reset_hooks: list[Callable[[], None]] = []

    async def start(self) -> None:
        await self.broadcast.start()

    async def stop(self) -> None:
        await self.broadcast.stop()

    def subscribe(
        self, kind: str, handler: Callable[[str], None], on_reset: Callable[[], None] | None
    ) -> None:
        """Hand messages of `kind` from other workers to `handler`; `on_reset` runs when
        messages may have been missed (before every waiter is woken)."""
        self._handlers[kind] = handler
        if on_reset is not None:
            self._reset_hooks.append(on_reset)

    def share_tokens(self, tokens: _TokenCache) -> None:
        """A revocation on any worker empties that user's entries on all of them."""
        tokens.on_forget = lambda user_id: self.broadcast.publish_soon(TOKENS, user_id)
        self.subscribe(TOKENS, tokens.forget_local, tokens.clear)

    def share_typing(self, typing: _Typing) -> None:
        """Typing lives in memory: every worker keeps every room's list, and wakes its own
        waiters on the room when another worker's change arrives."""

        def announce(room_id: str, user_id: str, until_ms: int, serial: int) -> None:
            body = json.dumps([room_id, user_id, until_ms, serial], separators=(",", ":"))
            self.broadcast.publish_soon(TYPING, body)

        def received(body: str) -> None:
            room_id, user_id, until_ms, serial = json.loads(body)
            typing.apply(str(room_id), str(user_id), int(until_ms), int(serial))
            self.notify(rooms=[str(room_id)])

        typing.on_change = announce
        self.subscribe(TYPING, received, None)

    def share_media(self, media: _Media) -> None:
        """An upload to a created media id on any worker wakes downloads waiting for it."""
        media.on_uploaded = lambda: self.broadcast.publish_soon(MEDIA, "")
        self.subscribe(MEDIA, lambda _body: media.wake_downloads(), media.wake_downloads)

    def wake_observer(self) -> "WakeBroadcaster":
        """The persister observer that sends each batch's wake-up inside its transaction."""
        return WakeBroadcaster(self.broadcast)

    def _dispatch(self, kind: str, body: str) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            logger.warning("broadcast message of unknown kind %r ignored", kind)
            return
        handler(body)

    def _wake_remote(self, body: str) -> None:
        rooms, users, *position = json.loads(body)
        self.notify(rooms=rooms, users=users, position=position[0] if position else None)

    def _reset(self) -> None:
        self.distrust_position()
        for hook in self._reset_hooks:
            hook()
        self.wake_all()


class WakeBroadcaster:
    """Persister observer: one NOTIFY per batch with the rooms and users it touched.

    Sent in `before_commit`, so it is part of the batch's transaction: delivered at commit,
    never for a batch that rolled back, and no separate round trip after the commit.
    """

    def __init__(self, broadcast: PgBroadcast) -> None:
        self._broadcast = broadcast

    async def appended(self, ctx: WriteContext, ev: StoredEvent, room: RoomState) -> None:
        return None

    def item_done(self, ok: bool) -> None:
        return None

    async def before_commit(self, ctx: WriteContext) -> None:
        if ctx.rooms or ctx.users:
            # With the batch's last position: other workers learn it without a read.
            limit = MAX_PAYLOAD - len(self._broadcast.origin) - len(WAKE)
            for body in wake_bodies(sorted(ctx.rooms), sorted(ctx.users), ctx.position, limit):
                await self._broadcast.send(ctx.conn, WAKE, body)

    def distrust(self) -> None:
        return None

    def committed(self) -> None:
        return None


def wake_bodies(rooms: list[str], users: list[str], position: int, limit: int) -> list[str]:
    """The wake-up as one message body, or as several of at most `limit` bytes each when
    one would be longer: a person in hundreds of rooms (a presence or key change wakes
    them all) must not become a wake-all of every waiter on every worker."""
    whole = _wake_body(rooms, users, position)
    if len(whole.encode()) <= limit:
        return [whole]
    bodies: list[str] = []
    chunk: tuple[list[str], list[str]] = ([], [])
    size = len(_wake_body([], [], position).encode())
    for which, name in [(0, r) for r in rooms] + [(1, u) for u in users]:
        grows = len(json.dumps(name).encode()) + 1
        if size + grows > limit and (chunk[0] or chunk[1]):
            bodies.append(_wake_body(*chunk, position))
            chunk = ([], [])
            size = len(_wake_body([], [], position).encode())
        chunk[which].append(name)
        size += grows
    bodies.append(_wake_body(*chunk, position))
    return bodies


def _wake_body(rooms: list[str], users: list[str], position: int) -> str:
    return json.dumps([rooms, users, position], separators=(",", ":"))
