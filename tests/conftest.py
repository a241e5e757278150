"""Shared fixtures: a migrated database on SQLite *and* the real PostgreSQL, and the app.

Migrations run once per session per engine; each test then starts from empty tables
(SQLite: a copy of a migrated template file; PostgreSQL: one transaction of DELETEs, see
`tests/helpers/databases.py`), so tests are independent without mocking the database.
Each xdist worker has its own PG database.

Which engines a test runs on: every test that uses `database_url` (directly or through
`settings`/`http`) or the e2e `server` runs on both engines, unless it is marked
`@pytest.mark.engines("sqlite")`. Both engines stay where the engine matters (storage,
the persister, durability, the transparency log, reports' SQL, the consent and inbox
authorization matrix, migrations). Flows whose subject is a client, a browser or routing
rather than the database (Playwright, matrix-nio, the JS SDK, the OAuth flows, the route
fuzz) run on SQLite, the marker on their module, and keep one PostgreSQL smoke test each,
marked `@pytest.mark.engines("sqlite", "postgresql")` (the closest marker wins). So do the
layers that hold no SQL of their own: the web pages (login and sessions excepted: their
rows are storage) and the CLI's commands, whose services run on both engines below them.

Password hashing: the whole run (and every `candor serve` it starts, through the
environment) uses Argon2id at its cheapest (`CHEAP_ARGON2`); a test that measures the real
cost asks for the defaults with `@pytest.mark.owasp_argon2`.

Compiled SQL: every test makes its own app and engine, and all of them compile statements
through one process-wide cache (`tests/helpers/sql_cache.py`), so a statement is compiled
once per process rather than once per test.
"""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest

from candor.app import create_app
from candor.config import PasswordSettings, Settings
from candor.core.clock import FakeClock
from candor.store.migrate import upgrade
from tests.helpers.databases import (
    ENGINES,
    create_pg_database,
    drop_pg_database,
    empty_pg_tables,
)
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks
from tests.helpers.sql_cache import share_compiled_sql

# Argon2id's minimum: hashing is a millisecond instead of tens, and the suite registers
# and logs in thousands of times. Through the environment so that every Settings a test
# builds, and every `candor serve` subprocess, picks it up.
CHEAP_ARGON2 = {"CANDOR_PASSWORDS__TIME_COST": "1", "CANDOR_PASSWORDS__MEMORY_COST_KIB": "8"}


# Hypothesis' per-example deadline measures the machine, not the code: four xdist workers on
# two cores (and CI's shared runners) push pure-function examples past 200 ms. Property
# tests here check correctness; speed has its benchmarks under bench/.
hypothesis.settings.register_profile("candor", deadline=None)
hypothesis.settings.load_profile("candor")


def pytest_configure(config: pytest.Config) -> None:
    for name, value in CHEAP_ARGON2.items():
        os.environ.setdefault(name, value)
    share_compiled_sql()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.engines(...)` drops the other engines' `database_url`/`server` cases."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("engines")
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        engine = next((params[n] for n in ("database_url", "server") if n in params), None)
        if marker is not None:
            unknown = set(marker.args) - set(ENGINES)
            assert marker.args, f"engines() takes some of {ENGINES}"
            assert not unknown, f"engines() takes some of {ENGINES}, not {unknown}"
        if marker is not None and engine is not None and engine not in marker.args:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this worker, migrated to head."""
    # The pid keeps concurrent test runs (and xdist workers) on separate databases.
    name = f"candor_test_{_worker()}_{os.getpid()}"
    url = asyncio.run(create_pg_database(name))
    upgrade(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    yield url
    asyncio.run(drop_pg_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "candor.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each engine (see the module docstring for which)."""
    if request.param == "sqlite":
        path = tmp_path / "candor.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(empty_pg_tables(url))
    return url


@pytest.fixture
def clean_candor_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Drop every CANDOR_* variable and run in an empty directory (no candor.toml)."""
    for name in list(os.environ):
        if name.startswith("CANDOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    built = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": False},
        http={"public_base_url": "http://test.local"},
    )
    if request.node.get_closest_marker("owasp_argon2") is None:
        return built
    # The defaults, not the environment's CHEAP_ARGON2.
    return built.model_copy(update={"passwords": PasswordSettings()})


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client wired to the real app in-process (real database, real persister).

    Every answer under /_matrix and /.well-known/matrix is checked against the Matrix
    spec's OpenAPI definitions as it arrives (`tests/helpers/spec.py`).
    """
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> MatrixTestClient:
    return await MatrixTestClient.register(http, "alice")


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> MatrixTestClient:
    return await MatrixTestClient.register(http, "bob")


@pytest.fixture
async def carol(http: httpx.AsyncClient) -> MatrixTestClient:
    return await MatrixTestClient.register(http, "carol")
