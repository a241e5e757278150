"""Keeping the relations index in the event's own transaction.

The event persister calls `RelationsIndexer.appended` for every event it appends, inside
the work item (`events/persister.py`, `AppendObserver`), so a relation row commits or
rolls back with its event: /relations never lists an event that was not stored, nor
misses one that was. `m.relates_to` is read from the content as sent; it is cleartext on
`m.room.encrypted` too, so encrypted edits, reactions and thread replies are indexed. A
redaction removes its target's row in the redaction's transaction (redacted relations
are not aggregated, spec "Redactions" under "Forming relationships between events").
Rejected alternative: writing the row in `events/repository.add_event`, which would make
the event store know about one content key of one feature.
"""

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType
from candor.matrix.events.model import StoredEvent
from candor.matrix.events.persister import RoomState, WriteContext
from candor.matrix.relations import repository as repo
from candor.matrix.relations.repository import THREAD, Relation

_MAX_ID = 255  # the width of the index's columns: a longer value is no relation we keep


def relation_of(content: JsonDict) -> tuple[str, str] | None:
    """(rel_type, parent event id) of an event's `m.relates_to`, if it has both."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    rel_type = relates.get("rel_type")
    parent = relates.get("event_id")
    if not (isinstance(rel_type, str) and isinstance(parent, str)):
        return None
    if not (0 < len(rel_type) <= _MAX_ID and 1 < len(parent) <= _MAX_ID):
        return None
    if not parent.startswith("$"):
        return None
    return rel_type, parent


def thread_of(content: JsonDict) -> str | None:
    """The thread an event is in, by its own content: the root's id for a thread reply
    (`m.thread`), '' for an event in the main timeline, None for another relation (an
    edit or reaction is in its parent's thread, which its content alone does not tell)."""
    relation = relation_of(content)
    if relation is None:
        return ""
    rel_type, parent = relation
    return parent if rel_type == THREAD else None


class RelationsIndexer:
    """The persister's observer for relations: one row per relating event."""

    async def appended(self, ctx: WriteContext, ev: StoredEvent, room: RoomState) -> None:
        if ev.type == EventType.REDACTION and ev.redacts is not None:
            await repo.remove_relation(ctx.conn, ev.room_id, ev.redacts)
            return
        relation = relation_of(ev.content)
        if relation is None or len(ev.type) > _MAX_ID:
            return
        rel_type, parent = relation
        await repo.add_relation(
            ctx.conn,
            Relation(ev.event_id, ev.room_id, parent, rel_type, ev.type, ev.sender, ev.stream_pos),
        )

    def item_done(self, ok: bool) -> None:
        """Nothing is kept between items: every write went into the item's transaction."""

    async def before_commit(self, ctx: WriteContext) -> None:
        """Nothing is batched."""

    def distrust(self) -> None:
        """No cache to drop."""

    def committed(self) -> None:
        """Nothing waits for the commit."""
