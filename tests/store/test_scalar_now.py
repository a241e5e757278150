"""`Database.scalar_now` (a hot one-value read outside any snapshot) and the inline BEGIN of
SQLite transactions, on both engines."""

from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.matrix.events import repository as events_repo
from candor.store.db import Database


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


async def test_scalar_now_sees_each_commit_at_once(db: Database) -> None:
    start = await events_repo.get_stream_position_now(db)
    async with db.read() as reader:
        assert await events_repo.get_stream_position(reader) == start
        async with db.write() as conn:
            await events_repo.set_stream_position(conn, start + 5)
        # Read beside an open read transaction, as a /sync re-poll does.
        assert await events_repo.get_stream_position_now(db) == start + 5


async def test_a_failed_write_transaction_leaves_nothing(db: Database) -> None:
    start = await events_repo.get_stream_position_now(db)

    async def fail_after_writing() -> None:
        async with db.write() as conn:
            await events_repo.set_stream_position(conn, start + 7)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await fail_after_writing()
    assert await events_repo.get_stream_position_now(db) == start
    async with db.read() as conn:
        assert await events_repo.get_stream_position(conn) == start
