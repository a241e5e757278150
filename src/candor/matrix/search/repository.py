"""SQL of the search index: rows written in the persister's transaction, and the queries.

The queries hand the ranking, the visibility ranges and the LIMIT to the database, so no
query reads every match of a common word into Python. Where the searcher may look
travels as two JSON parameters (any number of rooms, two bound values): the rooms they
may read whole (the usual case: joined, history `shared`), checked by room id, and the
other rooms' ranges of positions. Each engine ranks with its own function (FTS5's bm25
`rank`, PostgreSQL's `ts_rank` over the stored tsvector) over the newest `WINDOW` visible
matches and returns one page. SQLite's join is written `CROSS JOIN` to keep the
full-text match the outer loop (SQLite keeps the written order for it), walked newest
first (`ORDER BY f.rowid DESC` is FTS5's own order, so a LIMIT stops it early).

PostgreSQL has two ways to the newest matches, and which is cheaper depends on the word:
read every match through the GIN index and keep the newest (cost: the matches, a heap
page each), or walk the primary key from the newest row testing each tsvector until
enough are found (cost: the rows walked, about wanted * rows / matches). At 1M messages
the two cost the same near 20,000 matches; a word in 15 % of messages costs 430 ms
through the index and 15-25 ms walked, a word in 0.2 % the reverse. The planner knows this
when it plans for the word, but a prepared statement is soon planned once for any word
(a generic plan, which guessed "few matches" for every word: 216 ms p50 for a common
word). So the search asks the planner how many rows match this word (`EXPLAIN` of the
match alone, the word bound) and writes the chosen way into the statement, where no
cached plan can change it: `ts_match_vq` (the function behind `@@`, which no index
serves) to walk, `stream_pos + 0` (which no index orders) to read the matches.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import decode
from candor.matrix.search.terms import SearchQuery
from candor.store.models.events import Event
from candor.store.models.relations import EventRelation
from candor.store.models.search import EventSearch

# `rank` ranks the newest this many visible matches, and `count` stops at as many: a
# word in every tenth message of a million would otherwise be read, joined and scored
# 100,000 times for one page (bm25 and ts_rank cost per row). Newest first is what the
# engines give cheaply (FTS5 walks its rowids backwards, PostgreSQL its primary key).
WINDOW = 2_000
COUNT_CAP = WINDOW
# Longer values are indexed by their start only (a body of a megabyte would bloat the index).
MAX_CHARS = 65_536
REPLACE = "m.replace"

# Walking costs about a tenth of reading a match through GIN a row (measured at 1M
# messages: 0.3-0.4 microseconds a row walked, 3-4 a match read), and a searcher sees
# about half the rows walked. Reading costs 10 * matches, walking wanted * rows / matches
# / 0.5: walk when matches ** 2 > wanted * rows / 5.
_WALK_FACTOR = 0.2


async def add_rows(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    """Index rows (`stream_pos`, `room_id`, `sender`, `type`, `key`, `value`), one statement."""
    if rows:
        await conn.execute(insert(EventSearch), list(rows))


async def delete_events(conn: AsyncConnection, event_ids: Sequence[str]) -> None:
    """Drop the index rows of these events (redacted or erased); unknown ids are ignored."""
    if event_ids:
        positions = select(Event.stream_pos).where(Event.event_id.in_(list(event_ids)))
        await conn.execute(delete(EventSearch).where(EventSearch.stream_pos.in_(positions)))


async def replace_value(
    conn: AsyncConnection, event_id: str, room_id: str, sender: str, value: str
) -> None:
    """An edit's new words for the event it replaces: only an edit by the same sender in
    the same room counts (the spec's rule for a valid replacement)."""
    position = select(Event.stream_pos).where(
        Event.event_id == event_id, Event.room_id == room_id, Event.sender == sender
    )
    await conn.execute(
        update(EventSearch).where(EventSearch.stream_pos.in_(position)).values(value=value)
    )


def _object(raw: str) -> dict[str, object]:
    found = decode(raw)
    return found if isinstance(found, dict) else {}


async def restore_edited(conn: AsyncConnection, redacted_edit: str) -> None:
    """A redacted edit's original goes back to the words of its newest edit still standing
    (same sender, not redacted), or to its own. Without this, words someone took back by
    redacting the edit that added them stayed findable. Called while the redaction is
    appended: the edit's content is not pruned yet (its relation row may be gone)."""
    edit = (
        await conn.execute(
            select(Event.content, Event.sender, Event.room_id).where(
                Event.event_id == redacted_edit
            )
        )
    ).first()
    if edit is None:
        return
    relation = _object(edit[0]).get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != REPLACE:
        return
    target, sender = relation.get("event_id"), edit[1]
    original = (
        await conn.execute(
            select(Event.stream_pos, Event.content, EventSearch.key)
            .join(EventSearch, EventSearch.stream_pos == Event.stream_pos)
            .where(Event.event_id == target, Event.sender == sender, Event.room_id == edit[2])
        )
    ).first()
    if original is None:
        return  # not indexed (redacted, encrypted, not a text) or not the sender's
    pos, content, key = original
    newest = (
        await conn.execute(
            select(Event.content)
            .join(EventRelation, EventRelation.event_id == Event.event_id)
            .where(
                EventRelation.relates_to == target,
                EventRelation.rel_type == REPLACE,
                EventRelation.sender == sender,
                EventRelation.event_id != redacted_edit,
                Event.redacted_by.is_(None),
            )
            .order_by(EventRelation.stream_pos.desc())
            .limit(1)
        )
    ).first()
    words: object = None
    if newest is not None:
        new_content = _object(newest[0]).get("m.new_content")
        words = new_content.get("body") if isinstance(new_content, dict) else None
    if not isinstance(words, str) or not words.strip():
        words = _object(content).get(key.removeprefix("content."))
    if isinstance(words, str) and words.strip():
        await conn.execute(
            update(EventSearch).where(EventSearch.stream_pos == pos).values(value=words[:MAX_CHARS])
        )


async def delete_positions(conn: AsyncConnection, positions: Sequence[int]) -> None:
    if positions:
        await conn.execute(delete(EventSearch).where(EventSearch.stream_pos.in_(list(positions))))


@dataclass(frozen=True, slots=True)
class Where:
    """What a search matches: the query, where the searcher may look, and the filter."""

    query: SearchQuery
    # (room_id, lo, hi): positions lo..hi of the room are visible to the searcher.
    ranges: Sequence[tuple[str, int, int]]
    types: Sequence[str]
    senders: Sequence[str] | None
    not_senders: Sequence[str]
    # The stream position the ranges are bounded by: a range from 1 to here is the
    # whole room, checked by room id alone.
    upto: int = 0
    # Recent order's page: positions below this one only.
    before: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    stream_pos: int
    rank: float


@dataclass(frozen=True, slots=True)
class Page:
    hits: list[Hit]
    # How many match (up to COUNT_CAP), when the query could tell.
    total: int | None


class _Sql:
    """One query's text and bound values, built up clause by clause."""

    def __init__(self) -> None:
        self.params: dict[str, object] = {}

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return ":" + name

    def in_list(self, values: Sequence[str]) -> str:
        return "(" + ", ".join(self.bind(v) for v in values) + ")"


def _tsquery(sql: _Sql, query: SearchQuery) -> str:
    """PostgreSQL's tsquery of the parsed query, every word a bound value."""
    alternatives = []
    for alt in query.alternatives:
        parts = []
        for part in alt.parts:
            phrase = f"phraseto_tsquery('english', {sql.bind(' '.join(part.words))})"
            parts.append(f"!!{phrase}" if part.negated else phrase)
        alternatives.append("(" + " && ".join(parts) + ")")
    return "(" + " || ".join(alternatives) + ")"


def _tsquery_once(sql: _Sql, query: SearchQuery) -> str:
    """The tsquery as a sub-select, which PostgreSQL computes once per statement (an
    InitPlan). Written in a statement, a cached generic plan (the word unknown when
    planned) parsed and stemmed the words again for every row walked: 390 ms instead of
    77 for a walk of 217,000 rows."""
    return f"(SELECT {_tsquery(sql, query)})"


def _filters(sql: _Sql, where: Where) -> str:
    out = f" AND s.type IN {sql.in_list(where.types)}"
    if where.senders is not None:
        out += f" AND s.sender IN {sql.in_list(where.senders)}"
    if where.not_senders:
        out += f" AND s.sender NOT IN {sql.in_list(where.not_senders)}"
    if where.before is not None:
        out += f" AND s.stream_pos < {sql.bind(where.before)}"
    return out


def _split(where: Where) -> tuple[str, str | None]:
    """The whole rooms (JSON list of ids) and the other ranges (JSON objects, or None)."""
    whole = [r for r, lo, hi in where.ranges if lo <= 1 and hi >= where.upto]
    partial = [
        {"room_id": r, "lo": lo, "hi": hi}
        for r, lo, hi in where.ranges
        if not (lo <= 1 and hi >= where.upto)
    ]
    compact = (",", ":")
    return json.dumps(whole, separators=compact), (
        json.dumps(partial, separators=compact) if partial else None
    )


_SQLITE_RANGES = (
    "WITH r AS MATERIALIZED (SELECT json_extract(value, '$.room_id') AS room_id,"
    " json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi"
    " FROM json_each({ranges})) "
)
_SQLITE_WHOLE = "s.room_id IN (SELECT value FROM json_each({whole}))"
_SQLITE_PARTIAL = (
    "EXISTS (SELECT 1 FROM r WHERE r.room_id = s.room_id AND s.stream_pos BETWEEN r.lo AND r.hi)"
)
# ARRAY(...) is read once (an InitPlan); `IN (SELECT ...)` was re-read for every row of a
# backward primary-key scan.
_PG_WHOLE = "s.room_id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST({whole} AS jsonb))))"
_PG_PARTIAL = (
    "EXISTS (SELECT 1 FROM jsonb_to_recordset(CAST({ranges} AS jsonb))"
    " AS r(room_id text, lo bigint, hi bigint)"
    " WHERE r.room_id = s.room_id AND s.stream_pos BETWEEN r.lo AND r.hi)"
)


def _sqlite_parts(sql: _Sql, where: Where) -> tuple[str, str]:
    """SQLite's WITH clause (the partial ranges, or nothing) and its FROM ... WHERE, newest
    match first."""
    whole, partial = _split(where)
    cte = ""
    visible = _SQLITE_WHOLE.format(whole=sql.bind(whole))
    if partial is not None:
        cte = _SQLITE_RANGES.format(ranges=sql.bind(partial))
        visible = f"({visible} OR {_SQLITE_PARTIAL})"
    body = (
        " FROM event_search_fts f"
        " CROSS JOIN event_search s ON s.stream_pos = f.rowid"
        f" WHERE event_search_fts MATCH {sql.bind(where.query.fts5())}"
        f" AND {visible}" + _filters(sql, where) + " ORDER BY f.rowid DESC"
    )
    return cte, body


async def _pg_way(
    conn: AsyncConnection, where: Where, wanted: int, walk: bool | None, estimate: float | None
) -> bool:
    """How the statement finds the matches (`walk`, or `pg_walks` when None). A walk turns
    parallel workers off for the rest of the read: a parallel walk (each worker walking
    its share of the primary key, merged) cost 51 ms where one walk cost 19
    (a word in 8 % of 1M messages)."""
    if walk is None:
        walk = await pg_walks(conn, where, wanted, estimate)
    if walk:
        await conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return walk


async def match_estimate(conn: AsyncConnection, where: Where) -> float | None:
    """PostgreSQL's estimate of the rows this query's words match (`EXPLAIN` of the match
    alone, the words bound); None on SQLite, which needs none. Read once per search, it
    serves both the page and the count (`search`, `count`)."""
    if conn.dialect.name == "sqlite" or _empty(where):
        return None
    sql = _Sql()
    explain = "EXPLAIN (FORMAT JSON) SELECT 1 FROM event_search s WHERE s.tsv @@ "
    found = (await conn.execute(text(explain + _tsquery(sql, where.query)), sql.params)).scalar()
    # asyncpg hands json over as text; decoded already if a codec is registered.
    plan: Any = json.loads(found) if isinstance(found, str) else found  # Any: EXPLAIN JSON
    return float(plan[0]["Plan"]["Plan Rows"])


async def pg_walks(
    conn: AsyncConnection, where: Where, wanted: int, estimate: float | None = None
) -> bool:
    """Whether `wanted` newest matches are cheaper found by walking the primary key than by
    reading every match through GIN (see the module docstring), from the planner's
    estimate of the matches for this query's words (`estimate`, read if not given).
    `where.upto`, the stream position, stands for the rows: it counts every event, so it
    errs towards the index, whose cost does not grow when the searcher sees few of the
    rows walked."""
    matches = estimate if estimate is not None else await match_estimate(conn, where)
    matches = matches or 0.0
    return matches * matches > _WALK_FACTOR * wanted * max(where.upto, 1)


def _pg_from(sql: _Sql, where: Where, tsquery: str, *, walk: bool) -> str:
    """PostgreSQL's FROM ... WHERE, newest match first, found the way `walk` says."""
    whole, partial = _split(where)
    visible = _PG_WHOLE.format(whole=sql.bind(whole))
    if partial is not None:
        visible = f"({visible} OR {_PG_PARTIAL.format(ranges=sql.bind(partial))})"
    match, newest = (
        (f"ts_match_vq(s.tsv, {tsquery})", "s.stream_pos")
        if walk
        else (f"s.tsv @@ {tsquery}", "s.stream_pos + 0")
    )
    return (
        f" FROM event_search s WHERE {match} AND {visible}"
        + _filters(sql, where)
        + f" ORDER BY {newest} DESC"
    )


def _empty(where: Where) -> bool:
    return not where.ranges or not where.types or not where.query.alternatives


async def search(
    conn: AsyncConnection,
    where: Where,
    *,
    order: str,
    limit: int,
    offset: int = 0,
    walk: bool | None = None,
    estimate: float | None = None,
) -> "Page":
    """One page of matches, best (or newest) first; `limit` rows at most. The rank is
    higher for a closer match (FTS5's bm25 is negated); `rank` pages end with the window,
    and count it on the way (the matches in the window: the same as `count`). `walk`
    chooses PostgreSQL's way to the matches (None: `pg_walks` does, from `estimate` if
    given, see `match_estimate`)."""
    if _empty(where):
        return Page([], 0)
    postgres = conn.dialect.name != "sqlite"
    if postgres:
        walk = await _pg_way(conn, where, limit if order == "recent" else WINDOW, walk, estimate)
    statement, params = search_sql(
        where, postgres=postgres, order=order, limit=limit, offset=offset, walk=bool(walk)
    )
    rows = (await conn.execute(text(statement), params)).all()
    total = int(rows[0][2]) if rows and rows[0][2] is not None else None
    return Page([Hit(int(pos), float(rank)) for pos, rank, _ in rows], total)


def search_sql(
    where: Where, *, postgres: bool, order: str, limit: int, offset: int, walk: bool
) -> tuple[str, dict[str, object]]:
    """`search`'s statement and its bound values (`walk`: PostgreSQL only)."""
    sql = _Sql()
    if not postgres:
        cte, body = _sqlite_parts(sql, where)
        if order == "recent":
            statement = f"{cte}SELECT s.stream_pos, -f.rank, NULL{body}"
        else:
            window = f"SELECT s.stream_pos AS pos, f.rank AS score{body} LIMIT {sql.bind(WINDOW)}"
            statement = (
                f"{cte}SELECT pos, -score, count(*) OVER () FROM ({window})"  # noqa: S608 - values are bound
                " ORDER BY score, pos DESC"
            )
    else:
        tsquery = _tsquery_once(sql, where.query)
        if order == "recent":
            statement = f"SELECT s.stream_pos, ts_rank(s.tsv, {tsquery}), NULL" + _pg_from(
                sql, where, tsquery, walk=walk
            )
        else:
            body = _pg_from(sql, where, tsquery, walk=walk)
            window = f"SELECT s.stream_pos AS pos, s.tsv{body} LIMIT {sql.bind(WINDOW)}"
            statement = (
                f"SELECT pos, ts_rank(w.tsv, {tsquery}) AS score, count(*) OVER ()"  # noqa: S608 - values are bound
                f" FROM ({window}) AS w"
                " ORDER BY score DESC, pos DESC"
            )
    statement += f" LIMIT {sql.bind(limit)} OFFSET {sql.bind(offset)}"
    return statement, sql.params


async def count(
    conn: AsyncConnection,
    where: Where,
    *,
    walk: bool | None = None,
    estimate: float | None = None,
) -> int:
    """How many events match (up to `COUNT_CAP`); `walk` and `estimate` as for `search`."""
    if _empty(where):
        return 0
    postgres = conn.dialect.name != "sqlite"
    if postgres:
        walk = await _pg_way(conn, where, COUNT_CAP, walk, estimate)
    statement, params = count_sql(where, postgres=postgres, walk=bool(walk))
    return int((await conn.execute(text(statement), params)).scalar_one())


def count_sql(where: Where, *, postgres: bool, walk: bool) -> tuple[str, dict[str, object]]:
    """`count`'s statement and its bound values (`walk`: PostgreSQL only)."""
    sql = _Sql()
    if not postgres:
        cte, body = _sqlite_parts(sql, where)
        inner = cte + "SELECT 1" + body
    else:
        inner = "SELECT 1" + _pg_from(sql, where, _tsquery_once(sql, where.query), walk=walk)
    statement = f"SELECT count(*) FROM ({inner} LIMIT {sql.bind(COUNT_CAP)}) AS c"  # noqa: S608 - values are bound
    return statement, sql.params
