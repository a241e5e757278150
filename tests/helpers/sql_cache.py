"""One compiled-SQL cache for every engine the test process makes.

SQLAlchemy compiles each statement to its dialect's SQL once per engine (`Engine`'s own
LRU cache, keyed by the dialect *instance*). Candor makes one engine per app, and the suite
makes one app per test, so every test compiled from scratch every statement it reached:
a first `/sync` cost ~27 ms of CPU against ~7 ms warm, most of it SQLAlchemy's compiler.
The SQL a statement compiles to depends on the dialect's class and settings, not on which
instance of it: here every engine's connections use one process-wide cache whose keys name
the dialect by its class and its plain settings (server version, paramstyle, flags…), so a
statement compiled for one test's engine is reused by the next test's engine of the same
kind. What runs against the database is unchanged: the same SQL text, bound afresh from
each execution's parameters, as SQLAlchemy's own cache does within one engine
(`Connection.execution_options(compiled_cache=...)`, documented as superseding the
engine's cache).
"""

import inspect
import types
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.util import LRUCache

# Room for every distinct statement of the suite (a few thousand) with margin.
CAPACITY = 20_000
_PLAIN = (str, int, float, bool, bytes, type(None))
# Values shared by identity between instances: the DB-API module, classes.
_BY_IDENTITY = (types.ModuleType, type)

Key = tuple[Any, ...]  # Any: SQLAlchemy's cache key, (dialect, statement key, …)


def _plain(value: object) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, tuple | frozenset):
        return all(_plain(item) for item in value)
    return False


def dialect_signature(dialect: object) -> tuple[object, ...]:
    """What makes two dialect instances compile alike: their class and every setting that
    is a plain value (or a module or class, by identity). Values a class attribute memoizes
    on first use are left out: they follow from the rest, whenever they were worked out."""
    settings = []
    for name, value in sorted(vars(dialect).items()):
        if hasattr(inspect.getattr_static(type(dialect), name, None), "__get__"):
            continue
        if _plain(value):
            settings.append((name, value))
        elif isinstance(value, _BY_IDENTITY):
            settings.append((name, id(value)))
    return (type(dialect), tuple(settings))


class SharedCompiledCache(LRUCache):  # type: ignore[type-arg]
    """SQLAlchemy's compiled cache with the dialect instance in each key replaced by its
    signature (`dialect_signature`), worked out once per dialect after it connected."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(capacity)
        # Weak: each test's engine and dialect go when the test is done.
        self._signatures: weakref.WeakKeyDictionary[object, tuple[object, ...]] = (
            weakref.WeakKeyDictionary()
        )

    def _shared(self, key: Key) -> Key:
        dialect = key[0]
        signature = self._signatures.get(dialect)
        if signature is None:
            signature = self._signatures[dialect] = dialect_signature(dialect)
        return (signature, *key[1:])

    def get(self, key: Key, default: Any = None) -> Any:  # Any: a Compiled, as the base
        return super().get(self._shared(key), default)

    def __setitem__(self, key: Key, value: Any) -> None:  # Any: a Compiled, as the base
        super().__setitem__(self._shared(key), value)


SHARED = SharedCompiledCache()


def _share(conn: Connection) -> None:
    conn.execution_options(compiled_cache=SHARED)


def share_compiled_sql() -> None:
    """Make every engine's connections (async engines' too) compile through `SHARED`."""
    if not event.contains(Engine, "engine_connect", _share):
        event.listen(Engine, "engine_connect", _share)
