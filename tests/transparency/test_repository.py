"""The log's SQL on both engines, where the log's callers do not reach: lookups of nothing
answer nothing without a query."""

from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.tiles import TileID


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


async def test_looking_up_nothing_finds_nothing(db: Database) -> None:
    async with db.write() as conn:
        await repo.set_bundles(conn, {0: b"\x00\x01a"})
        await repo.set_tiles(conn, {TileID(0, 0): bytes(32)})
        await repo.insert_rows(conn, [])

    async with db.read() as conn:
        assert await repo.get_bundles(conn, []) == {}
        assert await repo.get_tiles(conn, []) == {}
        assert await repo.get_bundles(conn, [0, 1]) == {0: b"\x00\x01a"}
        assert await repo.get_tiles(conn, [TileID(0, 0), TileID(0, 1)]) == {TileID(0, 0): bytes(32)}
        assert await repo.get_tile_range(conn, 0, 0, 5) == {0: bytes(32)}
