"""SQL of the search index: rows written in the persister's transaction, and the queries.

The queries hand the ranking, the visibility ranges and the LIMIT to the database: the
ranges travel as one JSON parameter (any number of rooms, one bound value) joined to the
matches, each engine ranks with its own function (FTS5's bm25 `rank`, PostgreSQL's
`ts_rank` over the stored tsvector) and returns one page, so no query reads every match
of a common word into Python. SQLite's joins are written `CROSS JOIN` to keep the full-text
match the outer loop (SQLite keeps the written order for them): otherwise it may scan the
index once per range.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.search.terms import SearchQuery
from candor.store.models.events import Event
from candor.store.models.search import EventSearch

# `count` stops here: the spec's count is "approximate", and counting every match of a
# very common word would cost more than the page.
COUNT_CAP = 10_000


async def add_rows(conn: AsyncConnection, rows: Sequence[dict[str, object]]) -> None:
    """Index rows (`stream_pos`, `room_id`, `sender`, `type`, `key`, `value`), one statement."""
    if rows:
        await conn.execute(insert(EventSearch), list(rows))


async def delete_events(conn: AsyncConnection, event_ids: Sequence[str]) -> None:
    """Drop the index rows of these events (redacted or erased); unknown ids are ignored."""
    if event_ids:
        positions = select(Event.stream_pos).where(Event.event_id.in_(list(event_ids)))
        await conn.execute(delete(EventSearch).where(EventSearch.stream_pos.in_(positions)))


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
    # Recent order's page: positions below this one only.
    before: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    stream_pos: int
    rank: float


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


def _filters(sql: _Sql, where: Where) -> str:
    out = f" AND s.type IN {sql.in_list(where.types)}"
    if where.senders is not None:
        out += f" AND s.sender IN {sql.in_list(where.senders)}"
    if where.not_senders:
        out += f" AND s.sender NOT IN {sql.in_list(where.not_senders)}"
    if where.before is not None:
        out += f" AND s.stream_pos < {sql.bind(where.before)}"
    return out


def _ranges_json(where: Where) -> str:
    return json.dumps(
        [{"room_id": r, "lo": lo, "hi": hi} for r, lo, hi in where.ranges], separators=(",", ":")
    )


_SQLITE_RANGES = (
    "WITH r AS MATERIALIZED (SELECT json_extract(value, '$.room_id') AS room_id,"
    " json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi"
    " FROM json_each({ranges}))"
)


def _sqlite_parts(sql: _Sql, where: Where) -> tuple[str, str]:
    """SQLite's WITH clause (the ranges) and its FROM ... WHERE."""
    ranges = sql.bind(_ranges_json(where))
    match = sql.bind(where.query.fts5())
    cte = _SQLITE_RANGES.format(ranges=ranges)
    body = (
        " FROM event_search_fts f"
        " CROSS JOIN event_search s ON s.stream_pos = f.rowid"
        " CROSS JOIN r ON r.room_id = s.room_id AND s.stream_pos BETWEEN r.lo AND r.hi"
        f" WHERE event_search_fts MATCH {match}" + _filters(sql, where)
    )
    return cte, body


def _pg_from(sql: _Sql, where: Where, tsquery: str) -> str:
    ranges = sql.bind(_ranges_json(where))
    return (
        " FROM event_search s"
        f" JOIN jsonb_to_recordset(CAST({ranges} AS jsonb)) AS r(room_id text, lo bigint,"
        " hi bigint) ON r.room_id = s.room_id AND s.stream_pos BETWEEN r.lo AND r.hi"
        f" WHERE s.tsv @@ {tsquery}" + _filters(sql, where)
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
) -> list[Hit]:
    """One page of matches, best (or newest) first; `limit` rows at most. The rank is
    higher for a closer match (FTS5's bm25 is negated)."""
    if _empty(where):
        return []
    sql = _Sql()
    if conn.dialect.name == "sqlite":
        cte, body = _sqlite_parts(sql, where)
        ordering = "f.rank, s.stream_pos DESC" if order == "rank" else "s.stream_pos DESC"
        statement = f"{cte} SELECT s.stream_pos, -f.rank{body} ORDER BY {ordering}"
    else:
        tsquery = _tsquery(sql, where.query)
        body = _pg_from(sql, where, tsquery)
        ordering = "2 DESC, s.stream_pos DESC" if order == "rank" else "s.stream_pos DESC"
        statement = f"SELECT s.stream_pos, ts_rank(s.tsv, {tsquery}){body} ORDER BY {ordering}"
    statement += f" LIMIT {sql.bind(limit)} OFFSET {sql.bind(offset)}"
    rows = await conn.execute(text(statement), sql.params)
    return [Hit(int(pos), float(rank)) for pos, rank in rows]


async def count(conn: AsyncConnection, where: Where) -> int:
    """How many events match (up to `COUNT_CAP`)."""
    if _empty(where):
        return 0
    sql = _Sql()
    if conn.dialect.name == "sqlite":
        cte, body = _sqlite_parts(sql, where)
        inner = cte + " SELECT 1" + body
    else:
        inner = "SELECT 1" + _pg_from(sql, where, _tsquery(sql, where.query))
    statement = f"SELECT count(*) FROM ({inner} LIMIT {sql.bind(COUNT_CAP)}) AS c"  # noqa: S608 - values are bound
    return int((await conn.execute(text(statement), sql.params)).scalar_one())
