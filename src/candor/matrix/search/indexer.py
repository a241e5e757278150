"""Keeping the search index on the send path, in the event's own transaction.

The event persister calls `SearchIndexer.appended` for every event it appends, inside the
work item (`events/persister.py`, `AppendObserver`), so an event and its index row commit
together or not at all: an acknowledged message is findable at once, and a failed one
leaves no row. Rows are kept for one insert per batch (`before_commit`), the way push's
recorder keeps its rows, so a burst of sends costs one statement more, not one per message.

What is indexed: the one key the spec searches in each type (`criteria.KEY_OF_TYPE`), when
it is a non-empty string. Nothing is indexed in a room that has `m.room.encryption`
(DESIGN invariant 3: the server keeps no plaintext index of an encrypted room; an
m.room.encrypted event has no such key anyway). A redaction drops its target's row in the
redaction's own item.

An edit (`m.replace`) is not a message of its own: it changes the words of the one it
replaces, so the original's row takes the edit's `m.new_content.body` and the edit gets no
row. A search then finds a message by what it says now, and clients are never handed the
edit itself as a result (Element shows none of a page of results when the newest is an
edit). Redacting an edit gives the original back the words of its newest edit still
standing, or its own (`repository.restore_edited`), so words taken back are not found.
"""

from candor.matrix.constants import EventType
from candor.matrix.events.model import StoredEvent
from candor.matrix.events.persister import RoomState, WriteContext
from candor.matrix.search import repository as repo
from candor.matrix.search.criteria import KEY_OF_TYPE

MAX_INDEXED_CHARS = repo.MAX_CHARS


def index_row(ev: StoredEvent, room: RoomState) -> dict[str, object] | None:
    """The index row of an event, or None when it holds nothing searchable."""
    key = KEY_OF_TYPE.get(ev.type)
    if key is None or (EventType.ENCRYPTION, "") in room.state:
        return None
    if ev.type != EventType.MESSAGE and ev.state_key != "":
        return None  # a room's name and topic are state with the empty key
    value = ev.content.get(key.removeprefix("content."))
    if not isinstance(value, str) or not value.strip():
        return None
    return {
        "stream_pos": ev.stream_pos,
        "room_id": ev.room_id,
        "sender": ev.sender,
        "type": ev.type,
        "key": key,
        "value": value[:MAX_INDEXED_CHARS],
    }


def _edit_of(ev: StoredEvent) -> tuple[str, str] | None:
    """(the replaced event's id, its new words) when `ev` is an edit of a text message."""
    if ev.type != EventType.MESSAGE:
        return None
    relation = ev.content.get("m.relates_to")
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.replace":
        return None
    target = relation.get("event_id")
    new = ev.content.get("m.new_content")
    words = new.get("body") if isinstance(new, dict) else None
    if not isinstance(target, str) or not isinstance(words, str) or not words.strip():
        return None
    return target, words


class SearchIndexer:
    """The persister's observer for search: a row per searchable event, gone on redaction."""

    def __init__(self) -> None:
        # Rows kept for `before_commit`, their event ids, and redactions of kept rows;
        # where the current item's begin (a rolled-back item takes its own with it).
        self._rows: list[dict[str, object]] = []
        self._ids: list[str] = []
        self._dropped: list[str] = []
        self._item_start = (0, 0)

    async def appended(self, ctx: WriteContext, ev: StoredEvent, room: RoomState) -> None:
        edit = _edit_of(ev)
        if edit is not None:
            target, words = edit
            if (EventType.ENCRYPTION, "") in room.state:
                return
            if target in self._ids:  # the original is in this batch, not yet written
                pending = self._rows[self._ids.index(target)]
                if pending["sender"] == ev.sender and pending["room_id"] == ev.room_id:
                    pending["value"] = words[:MAX_INDEXED_CHARS]
            else:
                await repo.replace_value(
                    ctx.conn, target, ev.room_id, ev.sender, words[:MAX_INDEXED_CHARS]
                )
            return
        if ev.type == EventType.REDACTION and ev.redacts is not None:
            if ev.redacts in self._ids:
                self._dropped.append(ev.redacts)  # appended in this batch, not yet written
            else:
                await repo.delete_events(ctx.conn, [ev.redacts])
                await repo.restore_edited(ctx.conn, ev.redacts)
            return
        row = index_row(ev, room)
        if row is not None:
            self._rows.append(row)
            self._ids.append(ev.event_id)

    def item_done(self, ok: bool) -> None:
        if not ok:
            rows, dropped = self._item_start
            del self._rows[rows:], self._ids[rows:], self._dropped[dropped:]
        self._item_start = (len(self._rows), len(self._dropped))

    async def before_commit(self, ctx: WriteContext) -> None:
        dropped = set(self._dropped)
        rows = [r for r, i in zip(self._rows, self._ids, strict=True) if i not in dropped]
        self.distrust()
        await repo.add_rows(ctx.conn, rows)

    def distrust(self) -> None:
        self._rows, self._ids, self._dropped = [], [], []
        self._item_start = (0, 0)

    def committed(self) -> None:
        pass
