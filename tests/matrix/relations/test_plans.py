"""A /relations page and a /threads page are one index range on both engines, read in the
index's order, so their cost follows the page size, never the room's length or how many
other relations it holds: the plan of each real statement on an empty database."""

from typing import Any

import pytest

from candor.config import Settings
from candor.matrix.relations.repository import children_query, threads_query
from tests.helpers.plans import query_plan

ROOM = "!a:test.local"
PARENT = "$parent"


def _statements() -> dict[str, tuple[Any, str]]:  # Any: SQLAlchemy statements
    def children(rel_type: str | None, event_type: str | None, descending: bool) -> Any:
        return children_query(
            ROOM,
            PARENT,
            rel_type=rel_type,
            event_type=event_type,
            after=0,
            upto=10**9,
            descending=descending,
            limit=51,
        )

    return {
        "all back": (children(None, None, True), "ix_event_relations_parent_pos"),
        "all forward": (children(None, None, False), "ix_event_relations_parent_pos"),
        "rel type": (children("m.annotation", None, True), "ix_event_relations_parent_rel_pos"),
        "rel and event type": (
            children("m.annotation", "m.reaction", True),
            "ix_event_relations_parent_rel_type_pos",
        ),
        "threads": (
            threads_query(ROOM, before=10**9, limit=51, participant=None),
            "ix_event_threads_room_latest",
        ),
        "threads participated": (
            threads_query(ROOM, before=10**9, limit=51, participant="@u:test.local"),
            "ix_event_threads_room_latest",
        ),
    }


@pytest.mark.parametrize("name", list(_statements()))
async def test_a_page_is_one_index_range(settings: Settings, name: str) -> None:
    statement, index = _statements()[name]
    found = await query_plan(settings, statement)
    plan = found.text
    if found.sqlite:
        assert index in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # no sort: the page stops at its limit
        for table in ("event_relations", "event_threads", "events"):
            assert f"SCAN {table}" not in plan, plan
    else:
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan


async def test_recursing_walks_the_parent_index_level_by_level(settings: Settings) -> None:
    """`recurse=true` sorts what it found (the subtree is not in one index's order), but
    each level is a range of the parent index: no scan of the relations or the events."""
    statement = children_query(
        ROOM,
        PARENT,
        rel_type=None,
        event_type=None,
        after=0,
        upto=10**9,
        descending=True,
        limit=51,
        recurse=True,
    )
    found = await query_plan(settings, statement)
    plan = found.text
    if found.sqlite:
        assert plan.count("USING INDEX ix_event_relations_parent") == 2, plan  # both levels
        assert "SCAN event_relations" not in plan, plan
        assert "SCAN events" not in plan, plan
    else:
        assert "Seq Scan on event_relations" not in plan, plan
