"""Engine, connections and transactions for SQLite (default) and PostgreSQL, one code path.

SQLite runs in WAL mode with `synchronous=FULL`, so a commit that returned is on disk.
SQLite allows one writer: writes in this process queue on an asyncio lock instead of
failing with SQLITE_BUSY. pysqlite's implicit transactions are turned off so a `BEGIN` is
real and reads inside a transaction see one snapshot. Engine-specific SQL lives here only.
"""

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Row, Select, TextClause, create_engine, event, insert, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from candor.store.sqlite_inline import Connection as InlineConnection

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Any: a Core row of every column of a mapped table, read by attribute. `select(Model)`
# types it as the ORM entity, which a Core connection never returns.
TableRow = Row[Any]

# `sqlite+candor://` is SQLAlchemy's aiosqlite dialect over the inline driver.
registry.register("sqlite.candor", "candor.store.sqlite_inline", "InlineSQLiteDialect")


def async_url(url: str) -> str:
    """Route SQLite through the inline driver; other URLs are used as given."""
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite+candor://" + url[len("sqlite+aiosqlite://") :]
    return url


class Database:
    """Owns the engine; hands out read connections and serialised write transactions."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url = async_url(url)
        self.is_sqlite = url.startswith("sqlite")
        self._sqlite_path = _sqlite_file(url) if self.is_sqlite else ""
        if self.is_sqlite:
            # Opening a SQLite connection is cheap; `pool_size` is PostgreSQL's.
            self.engine: AsyncEngine = create_async_engine(
                url, pool_size=8, max_overflow=8, connect_args={"timeout": 30}
            )
            _configure_sqlite(self.engine)
        else:
            # A connection beyond `pool_size` is closed when returned, so a pool smaller than
            # a burst's concurrency (a message waking dozens of long-polls) opened and closed
            # connections on every message: each a TCP connect, a TLS attempt and a login.
            self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        self._write_lock = asyncio.Lock()
        self._sync_engine: Engine | None = None
        # SQLite file: a read-only connection of its own for `now()`, opened on first use.
        self._now_conn: sqlite3.Connection | None = None
        self._now_sql: dict[int, str] = {}

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction: one consistent snapshot, rolled back at the end."""
        if self.is_sqlite:
            # SQLAlchemy's `async with engine.connect()` closes in a task of its own so a
            # cancellation cannot abandon the close halfway; on the inline driver nothing
            # in the close suspends, so that cannot happen, and the task's loop round
            # trips kept connections checked out meanwhile: under a fan-out to hundreds
            # of long-polls the pool overflowed and opened a new SQLite connection for
            # most reads. Close inline instead.
            conn = self.engine.connect()
            await conn.start()
            try:
                await conn.begin()
                try:
                    yield conn
                finally:
                    await conn.rollback()
            finally:
                await conn.close()
            return
        async with self.engine.connect() as conn:
            await conn.begin()
            try:
                yield conn
            finally:
                await conn.rollback()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: commits (durably) on exit, rolls back on any exception.

        On SQLite the process-wide lock replaces SQLITE_BUSY retries; several processes on
        one SQLite file are not supported (use PostgreSQL for that).
        """
        if self.is_sqlite:
            async with self._write_lock:
                # Closed inline, as in `read` (the commit's fsync is inline too).
                conn = self.engine.connect()
                await conn.start()
                try:
                    trans = await conn.begin()
                    try:
                        yield conn
                    except BaseException:
                        await trans.rollback()
                        raise
                    await trans.commit()
                finally:
                    await conn.close()
        else:
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def now(self) -> AsyncIterator["NowReads"]:
        """Small reads that need no snapshot shared with other reads, for hot paths.

        Each statement sees everything committed before it. On a SQLite file they run
        straight on sqlite3 over a read-only connection kept for them, which costs
        microseconds where a pooled SQLAlchemy transaction cost a few hundred (a caught-up
        /sync re-poll is nothing else). On PostgreSQL they share one pooled connection
        in autocommit: no BEGIN and ROLLBACK round trips around them.
        """
        if self._sqlite_path:
            yield NowReads(self, None)
            return
        if self.is_sqlite:  # in memory: no second connection sees it
            async with self.read() as conn:
                yield NowReads(self, conn)
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield NowReads(self, conn)

    async def scalar_now(self, statement: Select[Any]) -> object:  # Any: any one column
        """One `NowReads.scalar` on its own."""
        async with self.now() as now:
            return await now.scalar(statement)

    def _now_connection(self) -> sqlite3.Connection:
        if self._now_conn is None:
            self._now_conn = sqlite3.connect(
                self._sqlite_path, check_same_thread=False, isolation_level=None
            )
            self._now_conn.execute("PRAGMA query_only=ON")
            self._now_conn.execute("PRAGMA busy_timeout=30000")
        return self._now_conn

    async def read_off_loop(self, work: Callable[[Connection], T]) -> T:
        """Run a long read (`work` gets a sync connection in a read transaction) without
        stalling the event loop.

        SQLite runs inline on the loop (see `sqlite_inline.py`), so a multi-second scan
        (an engagement report over millions of rows) would stall every request: here it
        runs in a worker thread on its own connection (WAL lets it read beside the
        writer). PostgreSQL's I/O is awaited anyway, so its `run_sync` stays on the loop.
        """
        if not self.is_sqlite:
            async with self.read() as conn:
                return await conn.run_sync(work)
        return await asyncio.to_thread(self._sqlite_read, work)

    def _sqlite_read(self, work: Callable[[Connection], T]) -> T:
        if self._sync_engine is None:
            path = self.url.split(":///", 1)[1]
            self._sync_engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
        with self._sync_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA query_only=ON")
            try:
                return work(conn)
            finally:
                conn.rollback()

    async def advisory_xact_lock(self, conn: AsyncConnection, key: int) -> None:
        """Serialise a critical section across workers (PostgreSQL); SQLite's lock suffices."""
        if not self.is_sqlite:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._now_conn is not None:
            self._now_conn.close()
            self._now_conn = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def _sqlite_file(url: str) -> str:
    """The file of a SQLite URL, or "" for an in-memory database (no second connection
    sees it)."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:") or "mode=memory" in path:
        return ""
    return path.split("?", 1)[0]


class NowReads:
    """The reads of one `Database.now()` block."""

    def __init__(self, db: Database, conn: AsyncConnection | None) -> None:
        self._db = db
        self._conn = conn

    @property
    def connection(self) -> AsyncConnection | None:
        """The block's connection, where there is one (not on a SQLite file)."""
        return self._conn

    async def scalar(self, statement: Select[Any]) -> object:  # Any: any one column
        """The one value of a one-row, one-column read. `statement` must be built once
        (its SQL is cached by identity)."""
        if self._conn is not None:
            return await self._conn.scalar(statement)
        sql = self._db._now_sql.get(id(statement))
        if sql is None:
            compiled = statement.compile(
                dialect=self._db.engine.dialect, compile_kwargs={"literal_binds": True}
            )
            sql = self._db._now_sql[id(statement)] = str(compiled)
        row = self._db._now_connection().execute(sql).fetchone()
        return None if row is None else row[0]

    async def rows(
        self, statement: TextClause, params: Mapping[str, object]
    ) -> list[tuple[Any, ...]]:  # Any: the statement's columns
        """The rows of a plain-SQL read (its `:name` parameters are sqlite3's own named
        style, so SQLite runs the text as it is)."""
        if self._conn is not None:
            return [tuple(row) for row in await self._conn.execute(statement, dict(params))]
        return self._db._now_connection().execute(statement.text, params).fetchall()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # Any: DB-API seam
        # Let SQLAlchemy emit BEGIN itself (see the module docstring).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        if isinstance(driver, InlineConnection):
            # Straight to sqlite3: through exec_driver_sql the BEGIN cost as much as the
            # one-row read it opened a snapshot for (most of /sync's reads).
            driver.execute_now("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN")


def insert_on_conflict(
    dialect: str,
) -> Callable[[Any], Any]:  # Any: a mapped class or Table in, the dialect's Insert out
    """The dialect's INSERT, which has `on_conflict_do_update` / `_do_nothing`.

    PostgreSQL's dialect package is imported only when a PostgreSQL engine uses it: on
    SQLite it would be ~2.5 MB of resident memory for nothing (issue 17: idle RSS).
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415 - lazy, see above

        return insert
    return sqlite_insert


async def upsert(
    conn: AsyncConnection,
    table: Any,  # Any: a mapped class or Table, as SQLAlchemy's insert() accepts
    values: dict[str, object],
    keys: tuple[str, ...],
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE, in each engine's dialect."""
    stmt = insert_on_conflict(conn.dialect.name)(table).values(**values)
    updates = {k: stmt.excluded[k] for k in values if k not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    await conn.execute(stmt)


async def upsert_many(
    conn: AsyncConnection,
    table: Any,  # Any: a mapped class or Table, as SQLAlchemy's insert() accepts
    rows: list[dict[str, object]],
    keys: tuple[str, ...],
) -> None:
    """`upsert` for many rows of the same columns, as one executemany.

    The statement is built once per (engine, table, columns): building it cost more than
    running it for the transparency log's small batches.
    """
    if not rows:
        return
    stmt = _upsert_statement(conn.dialect.name, table, tuple(rows[0]), keys)
    await conn.execute(stmt, rows)


@functools.cache
def _upsert_statement(
    dialect: str,
    table: Any,  # Any: a mapped class or Table, as SQLAlchemy's insert() accepts
    columns: tuple[str, ...],
    keys: tuple[str, ...],
) -> Any:  # Any: PostgreSQL's or SQLite's Insert, which share no typed base
    stmt = insert_on_conflict(dialect)(table)
    updates = {k: stmt.excluded[k] for k in columns if k not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)


async def insert_many(
    conn: AsyncConnection,
    table: Any,  # Any: a mapped class or Table, as SQLAlchemy's insert() accepts
    rows: list[dict[str, object]],
) -> None:
    """INSERT many rows of one mapped class or Table (all with the same keys).

    On SQLite, one plain executemany of tuples: SQLAlchemy's per-row parameter work cost
    more than SQLite's inserts for the transparency log's batches (a batch of 100 access
    records inserts about 300 rows). PostgreSQL goes through SQLAlchemy's insertmanyvalues,
    which already sends them in few round trips.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        await conn.execute(insert(table), rows)
        return
    name = table.__table__.name if hasattr(table, "__table__") else table.name
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    await conn.exec_driver_sql(
        f'INSERT INTO "{name}" ({names}) VALUES ({marks})',  # noqa: S608 - our own identifiers
        [tuple(row[c] for c in columns) for row in rows],
    )
