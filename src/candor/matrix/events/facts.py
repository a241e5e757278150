"""The event store's reads for matrix domains that are not built on rooms' events.

The room features (rooms, sync, admin) read `events/repository.py` directly; everyone
else comes through here (an import-linter contract). The keys domain needs only the
stream position, to bound `/keys/changes` by what is committed; `rooms/facts.py` passes
the same read on to the partner domains; push reads the events a user was notified of.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
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


async def unredacted_events_about(
    conn: AsyncConnection, user_id: str, room_ids: Sequence[str]
) -> list[StoredEvent]:
    """What an erasure prunes (`matrix/deactivation/`): the events the person sent and the
    member events about them in `room_ids`, not yet redacted, oldest first."""
    return await repo.list_unredacted_events_about(conn, user_id, room_ids)


async def prune_event(
    conn: AsyncConnection, ev: StoredEvent, pruned: JsonDict, redacted_by: str
) -> None:
    """Store `pruned` as the event's content, as a redaction does (and prune the copy a
    successor state event keeps as `prev_content`). The caller runs in a persister work
    item and takes a new stream position in it, so no cached /sync window serves the old
    content (`sync/window.py`)."""
    await repo.redact_event(conn, ev.event_id, pruned, redacted_by)
    if ev.state_key is not None:
        await repo.redact_prev_content(conn, ev, pruned)
