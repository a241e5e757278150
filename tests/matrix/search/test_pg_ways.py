"""PostgreSQL's two ways to a search's newest matches (`search/repository.py`): walking the
primary key (`walk`) and reading every match through the GIN index give the same pages
and counts; each statement's plan is the way it was written for, whatever the planner
would price; and the planner's estimate sends a word in every row to the walk and a rare
word to the index."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from candor.config import Settings
from candor.matrix.search.repository import (
    Where,
    add_rows,
    count,
    count_sql,
    pg_walks,
    search,
    search_sql,
)
from candor.matrix.search.terms import parse_search_term
from candor.store.db import Database

pytestmark = pytest.mark.engines("postgresql")

ROOMS = ("!a:test.local", "!b:test.local", "!c:test.local")
ROWS = 600
TYPES = ("m.room.message", "m.room.name", "m.room.topic")
TERMS = ("common", "rare", '"alpha beta"', "common -rare", "rare or gamma", "beta", "absent")


def _value(pos: int) -> str:
    words = ["common", "alpha beta" if pos % 3 else "beta alpha"]
    if pos % 97 == 0:
        words.append("rare")
    if pos % 5 == 0:
        words += ["gamma"] * (pos % 4)
    return " ".join(words)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    rows: list[dict[str, object]] = [
        {
            "stream_pos": pos,
            "room_id": ROOMS[pos % 3],
            "sender": f"@u{pos % 4}:test.local",
            "type": "m.room.topic" if pos % 10 == 0 else "m.room.message",
            "key": "content.body",
            "value": _value(pos),
        }
        for pos in range(1, ROWS + 1)
    ]
    async with database.write() as conn:
        await add_rows(conn, rows)
    async with database.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE event_search"))
    try:
        yield database
    finally:
        await database.dispose()


def _wheres(term: str) -> list[Where]:
    query = parse_search_term(term)
    whole = [(room, 1, ROWS) for room in ROOMS]
    return [
        Where(query, whole, TYPES, None, [], upto=ROWS),
        # Two rooms, one of them from position 100 to 400 only.
        Where(query, [(ROOMS[0], 1, ROWS), (ROOMS[1], 100, 400)], TYPES, None, [], upto=ROWS),
        Where(query, whole, ("m.room.message",), ["@u1:test.local"], [], upto=ROWS),
        Where(query, whole, TYPES, None, ["@u2:test.local"], upto=ROWS, before=350),
    ]


@pytest.mark.parametrize("term", TERMS)
async def test_both_ways_give_the_same_pages_and_counts(db: Database, term: str) -> None:
    for where in _wheres(term):
        async with db.read() as conn:
            for order, limit, offset in (("rank", 11, 0), ("rank", 30, 20), ("recent", 11, 0)):
                pages = [
                    await search(conn, where, order=order, limit=limit, offset=offset, walk=walk)
                    for walk in (True, False)
                ]
                assert pages[0] == pages[1], (where, order)
            assert await count(conn, where, walk=True) == await count(conn, where, walk=False)
    # And what the service uses, the estimate's choice, agrees with both.
    where = _wheres(term)[0]
    async with db.read() as conn:
        assert await search(conn, where, order="rank", limit=11) == await search(
            conn, where, order="rank", limit=11, walk=True
        )


async def test_the_estimate_walks_for_a_word_in_every_row_only(db: Database) -> None:
    async with db.read() as conn:
        assert await pg_walks(conn, _wheres("common")[0], 11)
        assert not await pg_walks(conn, _wheres("rare")[0], 11)


async def _plan(db: Database, statement: str, params: dict[str, object]) -> str:
    async with db.read() as conn:
        # A few hundred rows: priced as they are, a sequential scan wins every time.
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await conn.execute(text("EXPLAIN " + statement), params)
        return "\n".join(str(row[0]) for row in rows)


@pytest.mark.parametrize("walk", [True, False])
@pytest.mark.parametrize("kind", ["rank", "recent", "count"])
async def test_each_statement_finds_matches_the_way_it_was_written(
    db: Database, walk: bool, kind: str
) -> None:
    where = _wheres("common")[0]
    if kind == "count":
        statement, params = count_sql(where, postgres=True, walk=walk)
    else:
        statement, params = search_sql(
            where, postgres=True, order=kind, limit=11, offset=0, walk=walk
        )
    plan = await _plan(db, statement, params)
    if walk:
        assert "Index Scan Backward using pk_event_search" in plan, plan
        assert "ix_event_search_tsv" not in plan, plan
    else:
        assert "Bitmap Index Scan on ix_event_search_tsv" in plan, plan
        assert "pk_event_search" not in plan, plan
