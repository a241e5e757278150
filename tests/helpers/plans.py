"""The query plan of a real statement, on either engine, for tests that claim a read is an
index range (its cost follows the rows it returns, not the size of the table).

The database is empty, so PostgreSQL is told not to prefer a sequential scan of its few
rows (`enable_seqscan = off`, for this transaction only); SQLite plans from the schema.
"""

from dataclasses import dataclass

from sqlalchemy import ClauseElement, text

from candor.config import Settings
from candor.store.db import Database


@dataclass(frozen=True)
class Plan:
    text: str
    sqlite: bool


async def query_plan(settings: Settings, statement: ClauseElement | str) -> Plan:
    """`EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) of `statement`, its
    parameters rendered in (a SQLAlchemy statement) or given as literals (a string)."""
    db = Database(settings.sqlalchemy_url())
    try:
        async with db.write() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if not sqlite:
                # A test's tables hold a few rows, on which a scan or a sort costs nothing:
                # priced out, the plan shown is the one the indexes allow, as at scale
                # (with sorts priced in, an empty room's timestamp read was planned as a
                # range of another index plus a sort of its one row: the test flaked).
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
                await conn.execute(text("SET LOCAL enable_sort = off"))
            sql = (
                statement
                if isinstance(statement, str)
                else str(
                    statement.compile(
                        dialect=conn.dialect,
                        compile_kwargs={"literal_binds": True, "render_postcompile": True},
                    )
                )
            )
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = await conn.exec_driver_sql(explain + sql)
            return Plan("\n".join(str(row[-1]) for row in rows), sqlite)
    finally:
        await db.dispose()
