"""The event store's one read for matrix domains that are not built on rooms' events.

The room features (rooms, sync, admin) read `events/repository.py` directly; everyone
else comes through here (an import-linter contract). The keys domain needs only the
stream position, to bound `/keys/changes` by what is committed; `rooms/facts.py` passes
the same read on to the partner domains.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events import repository as repo


async def stream_position(conn: AsyncConnection) -> int:
    """The events stream position as committed (every change at or below it is visible)."""
    return await repo.get_stream_position(conn)
