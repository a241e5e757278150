"""The set-wise reads of an initial /sync (`sync/initial.py`) and a /messages page are index
ranges per room on both engines, so their cost follows the number of rooms and the page
size, never the length of a room's history or membership: the plan of each real statement
on an empty database (PostgreSQL told not to prefer a sequential scan of its few rows)."""

from typing import Any

import pytest

from candor.config import Settings
from candor.matrix.events.repository import (
    _CURRENT_STATE_OF_ROOMS,
    _LATEST_OF_ROOMS,
    _STATE_HISTORIES,
    room_events_query,
)
from candor.matrix.push.counting import _MANY_ROOMS, _ONE_ROOM
from candor.matrix.rooms.repository import _COUNTS_OF_ROOMS as _MEMBER_COUNTS
from candor.matrix.rooms.repository import _FIRST_MEMBERS
from tests.helpers.plans import query_plan

ROOMS = ["!a:test.local", "!b:test.local"]
USER = "@u:test.local"


def _statements() -> dict[str, tuple[Any, ...]]:  # Any: SQLAlchemy statements
    return {
        "latest events": (
            _LATEST_OF_ROOMS.params(room_ids=ROOMS, upto=10**9, skip=10),
            "ix_events_room_pos",
        ),
        "state histories": (
            _STATE_HISTORIES.params(room_ids=ROOMS, type="m.room.member", state_key=USER),
            "ix_events_room_state_pos",
        ),
        "current state": (_CURRENT_STATE_OF_ROOMS.params(room_ids=ROOMS), "current_state"),
        "heroes": (_FIRST_MEMBERS.params(room_ids=ROOMS, user_id=USER, skip=4), "memberships"),
        "member counts": (_MEMBER_COUNTS.params(room_ids=ROOMS), "memberships"),
        "page back": (room_events_query(ROOMS[0], 0, 10**9, True, 101), "ix_events_room_pos"),
        "page forward": (room_events_query(ROOMS[0], 0, 10**9, False, 101), "ix_events_room_pos"),
    }


@pytest.mark.parametrize("name", list(_statements()))
async def test_a_set_wise_read_is_index_ranges(settings: Settings, name: str) -> None:
    statement, index = _statements()[name]
    found = await query_plan(settings, statement)
    plan, sqlite = found.text, found.sqlite
    if sqlite:
        assert "SCAN events" not in plan, plan
        assert "SCAN room_memberships" not in plan, plan
        assert index in plan, plan
    else:
        # Which index PostgreSQL picks for a near-empty table follows the statistics
        # earlier tests left (the primary key's order can win): no sequential scan is the
        # stable claim here; SQLite's plan above names the index.
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan


@pytest.mark.parametrize("many", [True, False], ids=["rooms", "room"])
async def test_unread_counts_are_index_ranges(settings: Settings, many: bool) -> None:
    """Threads included: each thread's read position and count are index lookups and
    ranges too (`push/counting.py`)."""
    engine = "sqlite" if settings.sqlalchemy_url().startswith("sqlite") else "postgresql"
    rooms = ", ".join(f"'{r}'" for r in ROOMS)
    statement = (_MANY_ROOMS if many else _ONE_ROOM)[engine]
    sql = (
        statement.text.replace(":rooms", f"({rooms})")
        .replace(":room", f"'{ROOMS[0]}'")
        .replace(":user", f"'{USER}'")
        .replace(":upto", str(10**9))
    )
    found = await query_plan(settings, sql)
    plan, sqlite = found.text, found.sqlite
    if sqlite:
        for table in (
            "events",
            "notification_events",
            "notifications",
            "receipts",
            "event_threads",
        ):
            assert f"SCAN {table}" not in plan, plan
        assert "ix_notification_events_room_thread_pos" in plan, plan
        assert "ix_notification_events_room_sender_thread" in plan, plan
    else:
        assert "Seq Scan" not in plan, plan
