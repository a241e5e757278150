"""People search reads matching terms as one range of an index on both engines, not a scan
of every profile: the plan of the real statement, on an empty database (PostgreSQL told
not to prefer a sequential scan of its few rows)."""

from sqlalchemy import text

from candor.config import Settings
from candor.matrix.user_directory.repository import SEARCH_USERS
from candor.store.db import Database


async def test_the_term_lookup_is_an_index_range(settings: Settings) -> None:
    db = Database(settings.sqlalchemy_url())
    try:
        async with db.write() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if not sqlite:
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
            bound = SEARCH_USERS.params(
                me="@a:x", exact="ann", low="ann", high="ann\U0010ffff", limit=11
            )
            sql = str(bound.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = "\n".join(str(row[-1]) for row in await conn.exec_driver_sql(explain + sql))
    finally:
        await db.dispose()
    if sqlite:
        assert "SEARCH user_search_terms USING COVERING INDEX" in plan, plan
        assert "(term>? AND term<?)" in plan, plan
    else:
        assert "Index Only Scan using pk_user_search_terms" in plan, plan
        assert "Index Cond: ((term >= 'ann'::text) AND (term < " in plan, plan
