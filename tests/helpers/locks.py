"""Hold a writer's lock from a test, to stop a log or checkpointer in the middle of a batch.

`Database.write()` serialises writers with an asyncio lock on SQLite; on PostgreSQL the
log and the checkpointer take an advisory transaction lock. A test that holds the same
lock (through the same `Database`) parks the code under test at that point, and
`wait_for_waiters` returns once the expected number of writers are queued behind it.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from candor.store.db import Database

_WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND objid = :key AND database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
)


@asynccontextmanager
async def holding_write_lock(db: Database, key: int) -> AsyncIterator[None]:
    """Hold `db`'s write lock (SQLite) or advisory lock `key` (PostgreSQL) for the block."""
    async with db.write() as conn:
        await db.advisory_xact_lock(conn, key)
        yield


async def waiters(db: Database, key: int) -> int:
    """How many writers wait behind `holding_write_lock(db, key)`."""
    if db.is_sqlite:
        # The lock's queue is private to asyncio; reading it is the only way to see it.
        return len(db._write_lock._waiters or ())
    async with db.read() as conn:
        return int(await conn.scalar(_WAITING, {"key": key}) or 0)


async def wait_for_waiters(db: Database, key: int, count: int) -> None:
    """A bounded poll until `count` writers wait for the lock (5 s at most)."""
    for _ in range(500):
        if await waiters(db, key) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} writers never queued for the lock")
