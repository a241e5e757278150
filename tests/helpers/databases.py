"""PostgreSQL databases for tests: created, emptied between tests, dropped.

Every test database is made with `synchronous_commit = off` (a per-database setting, never
the server's config): a commit then returns before its WAL reaches the disk, which is most
of a small write's cost on this machine. PostgreSQL's own crash safety is not what the tests
prove (the SIGKILL tests kill `candor serve`, whose commits PostgreSQL still holds).
"""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from candor.store.models.registry import metadata

ENGINES = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("CANDOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_database_url(name: str) -> str:
    """The plain `postgresql://` URL of database `name` on the test server."""
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


async def _admin(*statements: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement, timeout=60)
    finally:
        await conn.close(timeout=10)


async def create_pg_database(name: str) -> str:
    """(Re)create database `name`, empty, without waiting for WAL flushes; return its URL."""
    await _admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}"',
        f'ALTER DATABASE "{name}" SET synchronous_commit = off',
    )
    return pg_database_url(name)


async def drop_pg_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_tables_script() -> str:
    """One transaction that makes a migrated database look freshly migrated.

    DELETE, children first, rather than TRUNCATE: TRUNCATE of ~46 tables takes a lock and
    new files per table (0.75-1.6 s a test here); DELETE of the few rows a test wrote takes
    milliseconds. Sequences restart and the stream position goes back to 0 as after
    `candor db upgrade`, so ids do not depend on which tests ran before.
    """
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name != "stream_positions"]
    # Table names come from our own models, not from input.
    deletes = "".join(f'DELETE FROM "{name}";' for name in tables)  # noqa: S608
    return (
        f"BEGIN;{deletes}"  # noqa: S608
        "UPDATE stream_positions SET position = 0;"
        "SELECT setval(c.oid, 1, false) FROM pg_class c"
        " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace;"
        "COMMIT;"
    )


async def empty_pg_tables(url: str) -> None:
    """Delete every row a test wrote to the migrated database at `url` (one round trip)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(_empty_tables_script(), timeout=60)
    finally:
        await conn.close(timeout=10)


@contextmanager
def empty_pg_database() -> Iterator[str]:
    """Yield the plain `postgresql://` URL of a new, empty database; drop it afterwards.

    Call from sync code (or a thread): it runs its own event loop.
    """
    name = f"candor_fresh_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(create_pg_database(name))
    try:
        yield url
    finally:
        asyncio.run(drop_pg_database(name))
