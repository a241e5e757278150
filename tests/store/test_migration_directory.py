"""The issue-15 migration fills its new columns and table from existing data, on both
engines: each state event learns the event it replaced, each room its join rule and
history visibility, and each existing user becomes findable by name and id."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.store.migrate import upgrade
from tests.helpers.databases import empty_pg_database

BEFORE = "b5d2e8f4a1c3"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with empty_pg_database() as url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _event(pos: int, event_type: str, key: str, sender: str, content: str) -> dict[str, object]:
    return {
        "pos": pos,
        "id": f"$e{pos}",
        "type": event_type,
        "key": key,
        "sender": sender,
        "content": content,
    }


EVENTS = [
    _event(1, "m.room.create", "", "@ann:x", '{"creator":"@ann:x"}'),
    _event(2, "m.room.join_rules", "", "@ann:x", '{"join_rule":"public"}'),
    _event(3, "m.room.name", "", "@ann:x", '{"name":"one"}'),
    _event(4, "m.room.message", "", "@ann:x", '{"body":"hi"}'),
    _event(5, "m.room.name", "", "@bo:x", '{"name":"two"}'),
    _event(6, "m.room.history_visibility", "", "@ann:x", '{"history_visibility":"joined"}'),
]


async def _seed(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (user_id, is_admin, displayname, created_ts, deactivated) "
                "VALUES ('@ann:x', false, 'Ann Lee', 0, false), "
                "('@bo:x', false, NULL, 0, false)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO rooms (room_id, creator, room_version, created_ts) "
                "VALUES ('!r:x', '@ann:x', '10', 0)"
            )
        )
        for ev in EVENTS:
            # The message is not state: its state_key is NULL.
            state_key = None if ev["type"] == "m.room.message" else ev["key"]
            await conn.execute(
                text(
                    "INSERT INTO events (stream_pos, event_id, room_id, type, state_key, sender, "
                    "origin_server_ts, depth, content) "
                    "VALUES (:pos, :id, '!r:x', :type, :key, :sender, 0, :pos, :content)"
                ),
                {**ev, "key": state_key},
            )
        for pos in (1, 2, 5, 6):
            ev = EVENTS[pos - 1]
            await conn.execute(
                text(
                    "INSERT INTO current_state (room_id, type, state_key, event_id, stream_pos) "
                    "VALUES ('!r:x', :type, '', :id, :pos)"
                ),
                ev,
            )
    await engine.dispose()


async def _read(
    url: str,
) -> tuple[list[tuple[object, ...]], tuple[object, ...], set[tuple[object, ...]]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        events = [
            tuple(r)
            for r in await conn.execute(
                text("SELECT event_id, replaces_state, prev_sender FROM events ORDER BY stream_pos")
            )
        ]
        room = tuple(
            (
                await conn.execute(
                    text("SELECT published, join_rule, history_visibility FROM rooms")
                )
            ).one()
        )
        terms = {
            tuple(r)
            for r in await conn.execute(text("SELECT term, user_id, kind FROM user_search_terms"))
        }
    await engine.dispose()
    return events, room, terms


def test_the_migration_fills_from_existing_rows(empty_url: str) -> None:
    upgrade(empty_url, BEFORE)
    asyncio.run(_seed(empty_url))

    upgrade(empty_url)
    events, room, terms = asyncio.run(_read(empty_url))

    assert events == [
        ("$e1", None, None),
        ("$e2", None, None),
        ("$e3", None, None),
        ("$e4", None, None),
        ("$e5", "$e3", "@ann:x"),
        ("$e6", None, None),
    ]
    assert room == (False, "public", "joined")
    assert terms == {
        ("ann lee", "@ann:x", 0),
        ("lee", "@ann:x", 1),
        ("ann", "@ann:x", 2),
        ("@ann:x", "@ann:x", 2),
        ("bo", "@bo:x", 2),
        ("@bo:x", "@bo:x", 2),
    }
