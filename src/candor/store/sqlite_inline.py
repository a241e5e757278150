"""An aiosqlite-compatible driver that runs sqlite3 calls inline on the event loop.

Why: aiosqlite sends every statement to a worker thread and back, which measured
~0.35 ms of CPU per statement here — more than the statements themselves by two orders
of magnitude — and made the send path CPU-bound. SQLite on a local file answers in
microseconds, so Candor runs it inline and pays only the commit's fsync (~0.4 ms here) on
the loop. Long scans would block the loop too; Candor's queries are indexed and bounded.
Only what SQLAlchemy's aiosqlite dialect uses is implemented; see `store/db.py` for the
dialect registration (`sqlite+candor://`).
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from sqlite3 import (
    DatabaseError,
    Error,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    sqlite_version,
    sqlite_version_info,
)
from typing import Any, Self

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)

__version__ = "0.22.1"  # the aiosqlite API level this module mirrors
__all__ = [
    "Connection",
    "Cursor",
    "DatabaseError",
    "Error",
    "InlineSQLiteDialect",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "connect",
    "sqlite_version",
    "sqlite_version_info",
]


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    # Any: DB-API parameters, passed to sqlite3 as SQLAlchemy gives them.
    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    # Any: as in `execute`.
    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Self:
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self) -> Any:  # Any: DB-API rows
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:  # Any: DB-API rows
        return self._cursor.fetchmany(size) if size is not None else self._cursor.fetchmany()

    async def fetchall(self) -> list[Any]:  # Any: DB-API rows
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:  # Any: sqlite3 types it as a 7-tuple of Nones
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Inline:
    """Stands in for aiosqlite's request queue: runs each function immediately."""

    # Any: aiosqlite queues calls of every result type (and futures of them).
    def put_nowait(self, item: tuple["asyncio.Future[Any] | None", Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the waiting future, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class _NoThread:
    daemon = True


class Connection:
    def __init__(self, database: str, **kwargs: Any) -> None:  # Any: sqlite3.connect()'s
        self._database = database
        self._kwargs = kwargs
        self._conn: sqlite3.Connection | None = None
        self._tx = _Inline()
        self._thread = _NoThread()

    def __await__(self) -> Any:  # Any: the coroutine's yields, which only asyncio reads
        async def _open() -> "Connection":
            kwargs = {**self._kwargs, "check_same_thread": False}
            self._conn = sqlite3.connect(self._database, **kwargs)
            return self

        return _open().__await__()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self._live().cursor())

    def execute_now(self, sql: str) -> None:
        """Run a statement that returns no rows (BEGIN), without the cursor round trip."""
        self._live().execute(sql)

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # Any: sqlite3.Connection.create_function's arguments, passed through.
    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connect(database: str, **kwargs: Any) -> Connection:  # Any: sqlite3.connect()'s
    return Connection(database, **kwargs)


class InlineSQLiteDialect(SQLiteDialect_aiosqlite):
    """SQLAlchemy's aiosqlite dialect over this module instead of aiosqlite."""

    driver = "candor"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        module = __import__("candor.store.sqlite_inline", fromlist=["connect"])
        return AsyncAdapt_aiosqlite_dbapi(module, sqlite3)
