"""`Database.now` (hot small reads outside any snapshot) and the inline BEGIN of SQLite
transactions, on both engines."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from candor.config import Settings
from candor.matrix.events import repository as events_repo
from candor.store.db import Database


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


async def _position_now(db: Database) -> int:
    async with db.now() as now:
        return await events_repo.get_stream_position_now(now)


async def test_scalar_now_sees_each_commit_at_once(db: Database) -> None:
    start = await _position_now(db)
    async with db.read() as reader:
        assert await events_repo.get_stream_position(reader) == start
        async with db.write() as conn:
            await events_repo.set_stream_position(conn, start + 5)
        # Read beside an open read transaction, as a /sync re-poll does.
        assert await _position_now(db) == start + 5


async def test_a_failed_write_transaction_leaves_nothing(db: Database) -> None:
    start = await _position_now(db)

    async def fail_after_writing() -> None:
        async with db.write() as conn:
            await events_repo.set_stream_position(conn, start + 7)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await fail_after_writing()
    assert await _position_now(db) == start
    async with db.read() as conn:
        assert await events_repo.get_stream_position(conn) == start


async def test_rows_and_scalars_of_one_now_block_see_every_commit_before_them(
    db: Database,
) -> None:
    stmt = text("SELECT :a AS a, 2 AS b UNION ALL SELECT 3, 4")
    async with db.now() as now:
        rows = await now.rows(stmt, {"a": 1})
        position = await events_repo.get_stream_position_now(now)
    assert sorted(rows) == [(1, 2), (3, 4)]
    async with db.write() as conn:
        await events_repo.set_stream_position(conn, position + 3)
    assert await db.scalar_now(events_repo._GET_POSITION) == position + 3
