"""Shared fixtures: a migrated database on SQLite *and* the real PostgreSQL, and the app.

Migrations run once per session per engine; each test then starts from empty tables
(SQLite: a copy of a migrated template file; PostgreSQL: TRUNCATE), so tests are
independent without mocking the database. Each xdist worker has its own PG database.
"""

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.app import create_app
from candor.config import Settings
from candor.core.clock import FakeClock
from candor.store.migrate import upgrade
from candor.store.models.registry import metadata
from tests.helpers.matrix import MatrixTestClient

PG_ADMIN_URL = os.environ.get("CANDOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this worker, migrated to head."""
    # The pid keeps concurrent test runs (and xdist workers) on separate databases.
    name = f"candor_test_{_worker()}_{os.getpid()}"
    asyncio.run(
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade(_async_url(url))
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(*statements: str) -> None:
    engine = create_async_engine(_async_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "candor.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _truncate_pg(url: str) -> None:
    engine = create_async_engine(_async_url(url))
    async with engine.begin() as conn:
        tables = ", ".join(t.name for t in metadata.sorted_tables if t.name != "stream_positions")
        await conn.execute(text(f"TRUNCATE {tables}"))
        await conn.execute(text("UPDATE stream_positions SET position = 0"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Every storage-touching test runs on both engines."""
    if request.param == "sqlite":
        path = tmp_path / "candor.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate_pg(url))
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
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": False},
        http={"public_base_url": "http://test.local"},
    )


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client wired to the real app in-process (real database, real persister)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as client:
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
