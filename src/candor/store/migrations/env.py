"""Alembic environment: runs migrations on the async engine for SQLite or PostgreSQL.

The URL comes from `config.attributes["url"]` (set by `candor.store.migrate`) or
`sqlalchemy.url`; batch mode is on so ALTERs work on SQLite.
"""

import asyncio

from alembic import context
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from candor.store.models.registry import metadata
from candor.store.models.search import outside_models

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to Alembic")
    return str(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=_in_models,
    )
    with context.begin_transaction():
        context.run_migrations()


def _in_models(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Autogenerate compares only what the models declare (not the search engines' own)."""
    return not outside_models(name, type_, parent_names.get("table_name"))


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
