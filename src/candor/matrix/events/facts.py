"""The event store's reads for matrix domains that are not built on rooms' events.

The room features (rooms, sync, admin) read `events/repository.py` directly; everyone
else comes through here (an import-linter contract). The keys domain needs only the
stream position, to bound `/keys/changes` by what is committed; `rooms/facts.py` passes
the same read on to the partner domains; push reads the events a user was notified of.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.events import repository as repo
from candor.matrix.events.model import StoredEvent


async def stream_position(conn: AsyncConnection) -> int:
    """The events stream position as committed (every change at or below it is visible)."""
    return await repo.get_stream_position(conn)


async def events_at(conn: AsyncConnection, positions: Sequence[int]) -> list[StoredEvent]:
    """The events at these stream positions (GET /notifications), oldest first."""
    return await repo.list_events_at(conn, positions)


async def event(conn: AsyncConnection, event_id: str) -> StoredEvent | None:
    """One event by id (an administrator reading a reported event: `matrix/moderation`)."""
    return await repo.get_event(conn, event_id)
