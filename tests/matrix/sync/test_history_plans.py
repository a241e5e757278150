"""/context's state read and /timestamp_to_event's read are index reads on both engines, so
they cost the same in a room of a thousand events or of a million: the plans of the real
statements on an empty database (PostgreSQL told not to prefer a sequential scan)."""

from candor.config import Settings
from candor.matrix.sync.repository import by_timestamp_query, state_at_query
from tests.helpers.plans import query_plan

ROOM = "!r:test.local"


async def test_state_at_a_position_is_one_seek_per_state_key(settings: Settings) -> None:
    for members in (None, ["@a:test.local", "@b:test.local"]):
        found = await query_plan(settings, state_at_query(ROOM, 1234, members))
        plan = found.text
        if found.sqlite:
            # The keys from current_state's primary key, each version by the state index.
            assert "ix_events_room_state_pos" in plan, plan
            assert "SCAN events" not in plan, plan
            assert "SCAN current_state" not in plan, plan
        else:
            assert "Index" in plan, plan
            assert "Seq Scan" not in plan, plan


async def test_events_by_timestamp_are_one_index_range(settings: Settings) -> None:
    for forward in (True, False):
        found = await query_plan(
            settings, by_timestamp_query(ROOM, 1_700_000_000_000, -1, forward, 50)
        )
        plan = found.text
        if found.sqlite:
            assert "ix_events_room_ts" in plan, plan
            # The order comes from the index too: no temporary B-tree for ORDER BY.
            assert "USE TEMP B-TREE" not in plan, plan
        else:
            assert "Index" in plan, plan
            assert "Seq Scan" not in plan, plan
            assert "Sort" not in plan, plan
