"""PostgreSQL LISTEN/NOTIFY between the workers sharing one database: short messages, at commit.

Why: every worker keeps things in memory that another worker's commit can make stale
(waiting /sync requests, the access-token cache, typing); a message on one channel tells
them all. A message sent inside a transaction (`send`) is delivered when, and only if, it
commits, and PostgreSQL delivers a channel's messages in commit order. Each worker holds one
dedicated asyncpg connection that only listens (SQLAlchemy's pool cannot lend a connection
for ever). If that connection is lost, messages sent meanwhile are gone: the worker
reconnects with backoff and, once it listens again, calls `on_reset` so its owner drops
what it cached and wakes everyone who waits (they re-read the database, so nothing is
missed). A worker's own messages come back to it; the origin prefix lets it drop them
without parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import Database

if TYPE_CHECKING:
    import asyncpg

logger = logging.getLogger(__name__)

CHANNEL = "candor"
# The listening connection's name in pg_stat_activity (operators and tests find it by it).
LISTENER_NAME = "candor-listener"
# PostgreSQL refuses payloads of 8000 bytes or more; a longer message becomes `WAKE_ALL`.
MAX_PAYLOAD = 7900
WAKE_ALL = "*"
_ORIGIN_LENGTH = 8
_BACKOFF_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
# The listening connection says nothing unless a message comes; probing it this often
# notices a silent loss (a dropped network path) that no error would report.
_PROBE_INTERVAL_S = 5.0
_PROBE_TIMEOUT_S = 5.0

Handler = Callable[[str, str], None]
"""Called with (kind, body) for each message another worker sent."""


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain `postgresql://` URL asyncpg connects with, from SQLAlchemy's URL."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgBroadcast:
    """One worker's end of the channel: `send` in a transaction, `publish` on its own,
    and a listening connection that hands other workers' messages to `on_message`."""

    def __init__(
        self,
        db: Database,
        on_message: Handler,
        on_reset: Callable[[], None],
        *,
        channel: str = CHANNEL,
    ) -> None:
        self._db = db
        self._dsn = asyncpg_dsn(db.url)
        self._on_message = on_message
        self._on_reset = on_reset
        self._channel = channel
        self.origin = secrets.token_hex(_ORIGIN_LENGTH // 2)
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._conn: asyncpg.Connection | None = None
        self.listening = asyncio.Event()
        self.resets = 0

    # --- sending ----------------------------------------------------------------------

    def payload(self, kind: str, body: str) -> str:
        """`origin` + `kind` (one character) + `body`; too long: a wake-all."""
        message = f"{self.origin}{kind}{body}"
        if len(message.encode()) > MAX_PAYLOAD:
            return f"{self.origin}{WAKE_ALL}"
        return message

    async def send(self, conn: AsyncConnection, kind: str, body: str) -> None:
        """Queue a message in `conn`'s transaction: delivered to all workers at its commit."""
        await conn.execute(
            text("SELECT pg_notify(:c, :p)"), {"c": self._channel, "p": self.payload(kind, body)}
        )

    async def publish(self, kind: str, body: str) -> None:
        """Send a message in a transaction of its own (for changes already committed)."""
        async with self._db.write() as conn:
            await self.send(conn, kind, body)

    def publish_soon(self, kind: str, body: str) -> None:
        """`publish` without waiting (from synchronous code); a failure is logged."""
        task = asyncio.get_running_loop().create_task(self._publish_logged(kind, body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish_logged(self, kind: str, body: str) -> None:
        try:
            await self.publish(kind, body)
        except Exception:
            logger.exception("broadcast of a %r message failed", kind)

    # --- listening --------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place (or failed once)."""
        self._task = asyncio.create_task(self._run(), name="pg-broadcast")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._pending):
            with contextlib.suppress(Exception):
                await task

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process (tests terminate it)."""
        return None if self._conn is None else self._conn.get_server_pid()

    async def _run(self) -> None:
        # Imported here, not at the top: SQLite deployments (one process, no listener)
        # never load asyncpg (about 3 MB of idle memory).
        import asyncpg  # noqa: PLC0415

        # What a lost or refused connection raises (asyncpg's client-side errors included:
        # a probe on a connection the server closed raises InterfaceError).
        connection_errors = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
        failures = 0
        first = True
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": LISTENER_NAME}
                )
            except connection_errors as exc:
                delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
                failures += 1
                logger.warning("broadcast listener cannot connect (%s); retry in %ss", exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self._channel, self._received)
                self._conn = conn
                self.listening.set()
                failures = 0
                if not first:
                    # Messages sent while nobody listened are lost: everyone re-reads.
                    self.resets += 1
                    logger.warning("broadcast listener reconnected; waking every waiter")
                    self._on_reset()
                first = False
                await self._watch(conn, lost)
            except connection_errors as exc:
                logger.warning("broadcast listener lost its connection (%s)", exc)
            except Exception:
                # A bug in a reset hook must not end listening for the process's lifetime.
                logger.exception("broadcast listener failed; reconnecting")
            finally:
                self.listening.clear()
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.terminate()
            await asyncio.sleep(_BACKOFF_S[0])

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is gone (terminated, or a probe fails)."""
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), _PROBE_INTERVAL_S)
            if lost.is_set() or conn.is_closed():
                return
            await asyncio.wait_for(conn.fetchval("SELECT 1"), _PROBE_TIMEOUT_S)

    def _received(
        self, _conn: object, _pid: int, _channel: str, payload: str
    ) -> None:  # asyncpg's listener signature
        if payload.startswith(self.origin):
            return
        kind, body = payload[_ORIGIN_LENGTH : _ORIGIN_LENGTH + 1], payload[_ORIGIN_LENGTH + 1 :]
        try:
            self._on_message(kind, body)
        except Exception:
            logger.exception("broadcast message of kind %r failed", kind)
