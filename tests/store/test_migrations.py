"""Migrations on both engines: head from empty matches the models, and down/up round-trips."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from candor.store.migrate import downgrade, upgrade
from candor.store.models.registry import metadata
from candor.store.models.search import outside_models
from tests.helpers.databases import empty_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy async URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with empty_pg_database() as url:
        yield url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _diff(connection: Connection) -> list[Any]:
    # The search index's engine-specific objects are made by its migration only.
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, type_, parents: (
                not outside_models(name, type_, parents.get("table_name"))
            ),
        },
    )
    return list(compare_metadata(context, metadata))


def _table_names(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {n for n in names if not outside_models(n, "table", None)}


async def _inspect(url: str) -> tuple[list[Any], set[str], list[tuple[str, int]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            tables = await conn.run_sync(_table_names)
            rows: list[tuple[str, int]] = []
            if "stream_positions" in tables:
                result = await conn.execute(text("SELECT name, position FROM stream_positions"))
                rows = [(name, position) for name, position in result]
    finally:
        await engine.dispose()
    return diff, tables, rows


def test_upgrade_from_empty_matches_the_models_exactly(empty_url: str) -> None:
    upgrade(empty_url)

    diff, tables, _ = asyncio.run(_inspect(empty_url))

    assert tables == set(metadata.tables)
    assert diff == []


def test_upgrade_seeds_the_events_stream_position(empty_url: str) -> None:
    upgrade(empty_url)

    _, _, rows = asyncio.run(_inspect(empty_url))

    assert rows == [("events", 0)]


def test_downgrade_then_upgrade_round_trips(empty_url: str) -> None:
    upgrade(empty_url)

    downgrade(empty_url, "-1")
    diff_after_downgrade, tables_after_downgrade, _ = asyncio.run(_inspect(empty_url))
    upgrade(empty_url)
    diff, tables, rows = asyncio.run(_inspect(empty_url))

    dropped = set(metadata.tables) - tables_after_downgrade
    # The comparison is live: the head migration's change (tables or columns) shows as a
    # difference, and exactly the dropped tables are reported missing.
    assert diff_after_downgrade, "the head migration should change the schema"
    assert {d[1].name for d in diff_after_downgrade if d[0] == "add_table"} == dropped
    assert tables == set(metadata.tables)
    assert diff == []
    assert rows == [("events", 0)]


def test_downgrade_to_base_removes_everything(empty_url: str) -> None:
    upgrade(empty_url)

    downgrade(empty_url, "base")
    _, tables_after_downgrade, _ = asyncio.run(_inspect(empty_url))
    upgrade(empty_url)
    diff, tables, _ = asyncio.run(_inspect(empty_url))

    assert tables_after_downgrade == set()
    assert tables == set(metadata.tables)
    assert diff == []
