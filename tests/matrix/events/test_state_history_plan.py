"""The history-visibility read (every version of one state key, in stream order) is one
range of an index on both engines, so a `/messages` page costs the same in a room of a
thousand events or a million: the plan of the real statement on an empty database
(PostgreSQL told not to prefer a sequential scan of its few rows)."""

from candor.config import Settings
from candor.matrix.events.repository import state_history_query
from tests.helpers.plans import query_plan


async def test_a_state_keys_history_is_one_index_range(settings: Settings) -> None:
    found = await query_plan(
        settings, state_history_query("!r:test.local", "m.room.member", "@a:test.local")
    )
    plan, sqlite = found.text, found.sqlite
    if sqlite:
        assert "ix_events_room_state_pos" in plan, plan
        # The order comes from the index too: no temporary B-tree for ORDER BY.
        assert "USE TEMP B-TREE" not in plan, plan
    else:
        # Which index PostgreSQL picks among equally good ones on near-empty tables follows
        # the statistics earlier tests left (it flaked in a full run): assert an index
        # range, no table scan.
        assert "Index" in plan, plan
        assert "Seq Scan" not in plan, plan
