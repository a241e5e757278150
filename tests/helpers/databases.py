"""Fresh, empty databases for tests that must start below the migrated schema."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

PG_ADMIN_URL = os.environ.get("CANDOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(statement: str) -> None:
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@contextmanager
def empty_pg_database() -> Iterator[str]:
    """Yield the plain `postgresql://` URL of a new, empty database; drop it afterwards.

    Call from sync code (or a thread): it runs its own event loop.
    """
    name = f"candor_fresh_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
