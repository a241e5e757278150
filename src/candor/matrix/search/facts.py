"""What other matrix domains may do to the search index: forget events.

Account erasure (and anything else that prunes events' content) calls `forget_events`
in the same transaction as the pruning, so no word of a pruned event stays findable.
Inside an event-persister work item, pass `ctx.conn`.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.search import repository as repo


async def forget_events(conn: AsyncConnection, event_ids: Sequence[str]) -> None:
    """Remove these events from the search index (ids not indexed are ignored)."""
    await repo.delete_events(conn, event_ids)


async def forget_positions(conn: AsyncConnection, positions: Sequence[int]) -> None:
    """The same, by the events' stream positions (no lookup of the ids)."""
    await repo.delete_positions(conn, positions)
