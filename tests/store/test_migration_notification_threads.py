"""Migration c18h10000001 on both engines, on real rows: notifications recorded before it
get their thread from the relations index, so a thread's unread count is right across
the upgrade, and the main timeline's rows stay in the main timeline."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from candor.store.migrate import downgrade, upgrade
from tests.helpers.databases import empty_pg_database

BEFORE = "c18b10000001"
ROOM, ROOT = "!r:test.local", "$root"

relations_t = sa.table(
    "event_relations",
    *(sa.column(c) for c in ("event_id", "room_id", "relates_to", "rel_type", "type", "sender")),
    sa.column("stream_pos", sa.BigInteger()),
)
baselines_t = sa.table(
    "notification_events",
    *(sa.column(c) for c in ("room_id", "sender", "actions")),
    sa.column("stream_pos", sa.BigInteger()),
    sa.column("highlight", sa.Boolean()),
)
exceptions_t = sa.table(
    "notifications",
    *(sa.column(c) for c in ("user_id", "room_id", "actions")),
    sa.column("stream_pos", sa.BigInteger()),
    sa.column("notify", sa.Boolean()),
    sa.column("highlight", sa.Boolean()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with empty_pg_database() as found:
        yield found.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _fill(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            # 2 replies in the thread, 3 a reaction to the root (not a thread reply), 4 main.
            await conn.execute(
                sa.insert(relations_t),
                [
                    {
                        "event_id": "$two",
                        "room_id": ROOM,
                        "relates_to": ROOT,
                        "rel_type": "m.thread",
                        "type": "m.room.message",
                        "sender": "@a:x",
                        "stream_pos": 2,
                    },
                    {
                        "event_id": "$three",
                        "room_id": ROOM,
                        "relates_to": ROOT,
                        "rel_type": "m.annotation",
                        "type": "m.reaction",
                        "sender": "@a:x",
                        "stream_pos": 3,
                    },
                ],
            )
            await conn.execute(
                sa.insert(baselines_t),
                [
                    {
                        "room_id": ROOM,
                        "sender": "@a:x",
                        "actions": "[]",
                        "stream_pos": p,
                        "highlight": False,
                    }
                    for p in (1, 2, 3, 4)
                ],
            )
            await conn.execute(
                sa.insert(exceptions_t),
                [
                    {
                        "user_id": "@b:x",
                        "room_id": ROOM,
                        "actions": "[]",
                        "stream_pos": p,
                        "notify": True,
                        "highlight": True,
                    }
                    for p in (2, 4)
                ],
            )
    finally:
        await engine.dispose()


async def _threads(url: str) -> tuple[dict[int, str], dict[int, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            base = await conn.execute(
                sa.text("SELECT stream_pos, thread_id FROM notification_events")
            )
            mine = await conn.execute(sa.text("SELECT stream_pos, thread_id FROM notifications"))
            return {int(r[0]): str(r[1]) for r in base}, {int(r[0]): str(r[1]) for r in mine}
    finally:
        await engine.dispose()


def test_existing_notifications_get_their_thread(url: str) -> None:
    upgrade(url, BEFORE)
    asyncio.run(_fill(url))
    upgrade(url)
    base, mine = asyncio.run(_threads(url))
    assert base == {1: "", 2: ROOT, 3: "", 4: ""}
    assert mine == {2: ROOT, 4: ""}
    # And back: the rows survive the downgrade without the column.
    downgrade(url, BEFORE)
    upgrade(url)
    base, _ = asyncio.run(_threads(url))
    assert base == {1: "", 2: ROOT, 3: "", 4: ""}
