"""Bundled aggregations: `unsigned.m.relations` on the events a client is served.

https://spec.matrix.org/v1.11/client-server-api/#aggregations-of-child-events. One call
takes a whole page of serialized events (a /sync response's timelines, a /messages page,
one event) and reads their children in a fixed number of statements, about eight, however
many events the page holds and however many children they have: the cost does not grow
with page size times relations. Callers: /sync (`sync/service.py`), /messages
(`sync/endpoints.py`), GET /rooms/{roomId}/event/{eventId} (`rooms/endpoints.py`), the
relations and threads endpoints here, and any other endpoint serving events (/context,
/search) through `bundle_aggregations` or `RelationsService.bundle`.

What is bundled, per the spec since v1.7:
- `m.thread`: `latest_event` (the newest reply, itself with its bundled edit), `count`
  (replies not redacted) and `current_user_participated` (sent the root or a reply);
- `m.replace`: the most recent valid replacement event, whole (servers no longer rewrite
  the original's content). Valid: same sender and type as the original, the original is
  no state event and no edit itself; none is bundled on a redacted original. "Most
  recent" is by stream order, which on one server is the order of `origin_server_ts`;
- `m.reference`: `chunk` of the referencing event ids.
Annotations (reactions) are not bundled, as the spec no longer asks for them. Children the
requester may not see (history visibility) are left out; a thread's `count` is not.
"""

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent, serialize_event
from candor.matrix.relations import repository as repo
from candor.matrix.relations.repository import THREAD, Relation
from candor.matrix.rooms.reads import load_visibilities
from candor.matrix.rooms.visibility import VisibilityContext
from candor.store.db import Database

REPLACE = "m.replace"
REFERENCE = "m.reference"


def _rel_type(content: object) -> object:
    if not isinstance(content, dict):
        return None
    relates = content.get("m.relates_to")
    return relates.get("rel_type") if isinstance(relates, dict) else None


def _served_at(ev: JsonDict) -> int:
    ts, unsigned = ev.get("origin_server_ts"), ev.get("unsigned")
    age = unsigned.get("age") if isinstance(unsigned, dict) else None
    return ts + age if isinstance(ts, int) and isinstance(age, int) else 0


def _can_be_edited(ev: JsonDict) -> bool:
    unsigned = ev.get("unsigned")
    redacted = isinstance(unsigned, dict) and "redacted_because" in unsigned
    return not redacted and "state_key" not in ev and _rel_type(ev.get("content")) != REPLACE


def _latest_edit(
    parent: JsonDict | StoredEvent, edits: list[Relation], vis: VisibilityContext
) -> Relation | None:
    """The newest valid replacement of `parent` among `edits` (oldest first)."""
    sender: object
    ev_type: object
    if isinstance(parent, StoredEvent):
        sender, ev_type = parent.sender, parent.type
        ok = parent.redacted_by is None and parent.state_key is None
        ok = ok and _rel_type(parent.content) != REPLACE
    else:
        sender, ev_type = parent.get("sender"), parent.get("type")
        ok = _can_be_edited(parent)
    if not ok:
        return None
    for rel in reversed(edits):
        if rel.sender == sender and rel.type == ev_type and vis.is_visible(rel.stream_pos):
            return rel
    return None


async def bundle_aggregations(
    conn: AsyncConnection,
    user_id: str,
    events: Sequence[JsonDict],
    *,
    now_ms: int,
    room_id: str | None = None,
) -> None:
    """Add `unsigned.m.relations` to each of `events` (serialized, as served) that has
    children to bundle, as `user_id` may see them. An event without `room_id` (a /sync
    timeline's) is taken to be in `room_id`."""
    by_room: dict[str, list[JsonDict]] = {}
    for ev in events:
        rid = ev.get("room_id", room_id)
        if isinstance(rid, str):
            by_room.setdefault(rid, []).append(ev)
    await bundle_rooms(conn, user_id, by_room, now_ms=now_ms)


async def bundle_served_rooms(
    db: Database, user_id: str, by_room: Mapping[str, Sequence[JsonDict]]
) -> None:
    """`bundle_rooms` in reads of its own, for /sync: most responses' events have no
    bundled child, and for them this is one small read outside any snapshot
    (`Database.now`), not a pooled transaction: a woken long-poll stays as cheap."""
    ids = [str(ev["event_id"]) for events in by_room.values() for ev in events if "event_id" in ev]
    if not ids:
        return
    async with db.now() as now:
        if not await repo.any_bundled_children(now, ids):
            return
    async with db.read() as conn:
        await bundle_rooms(conn, user_id, by_room)


async def bundle_rooms(
    conn: AsyncConnection,
    user_id: str,
    by_room: Mapping[str, Sequence[JsonDict]],
    *,
    now_ms: int | None = None,
) -> None:
    """`bundle_aggregations` for events grouped by room (a /sync response's timelines).

    Without `now_ms`, bundled events' `age` counts up to when the page's own events were
    served (their `origin_server_ts` plus `age`)."""
    parents: dict[str, tuple[str, JsonDict]] = {}
    for rid, events in by_room.items():
        for ev in events:
            event_id = ev.get("event_id")
            if isinstance(event_id, str):
                parents[event_id] = (rid, ev)
    if not parents:
        return
    ids = list(parents)
    rels = [
        r
        for r in await repo.list_relations_of(conn, ids, (REPLACE, REFERENCE))
        if parents[r.relates_to][0] == r.room_id
    ]
    threads = [
        t for t in await repo.list_threads_of(conn, ids) if parents[t.root_event_id][0] == t.room_id
    ]
    if not rels and not threads:
        return
    if now_ms is None:
        now_ms = max(_served_at(ev) for _, ev in parents.values())
    rooms = sorted({r.room_id for r in rels} | {t.room_id for t in threads})
    vis = await load_visibilities(conn, rooms, user_id)
    edits: dict[str, list[Relation]] = {}
    refs: dict[str, list[str]] = {}
    for rel in rels:
        if rel.rel_type == REPLACE:
            edits.setdefault(rel.relates_to, []).append(rel)
        elif vis[rel.room_id].is_visible(rel.stream_pos):
            refs.setdefault(rel.relates_to, []).append(rel.event_id)
    chosen: dict[str, str] = {}  # parent -> its bundled edit
    for parent_id, candidates in edits.items():
        rid, parent = parents[parent_id]
        edit = _latest_edit(parent, candidates, vis[rid])
        if edit is not None:
            chosen[parent_id] = edit.event_id
    threads = [t for t in threads if vis[t.room_id].is_visible(t.latest_pos)]
    replied = await repo.threads_replied_in(conn, [t.root_event_id for t in threads], user_id)
    fetched = {
        e.event_id: e
        for e in await events_repo.list_events_by_id(
            conn, [*chosen.values(), *(t.latest_event_id for t in threads)]
        )
    }
    latest_edits = await _edits_of_latest(conn, threads, fetched, vis)
    bundles: dict[str, JsonDict] = {}
    for parent_id, edit_id in chosen.items():
        if edit_id in fetched:
            bundles.setdefault(parent_id, {})[REPLACE] = serialize_event(
                fetched[edit_id], now_ms=now_ms
            )
    for parent_id, ref_ids in refs.items():
        bundles.setdefault(parent_id, {})[REFERENCE] = {
            "chunk": [{"event_id": event_id} for event_id in ref_ids]
        }
    for t in threads:
        latest = fetched.get(t.latest_event_id)
        if latest is None:
            continue
        served = serialize_event(latest, now_ms=now_ms)
        own_unsigned = served["unsigned"]
        if latest.event_id in latest_edits and isinstance(own_unsigned, dict):
            own_unsigned["m.relations"] = {
                REPLACE: serialize_event(latest_edits[latest.event_id], now_ms=now_ms)
            }
        root = parents[t.root_event_id][1]
        bundles.setdefault(t.root_event_id, {})[THREAD] = {
            "latest_event": served,
            "count": t.count,
            "current_user_participated": root.get("sender") == user_id
            or t.root_event_id in replied,
        }
    for parent_id, bundle in bundles.items():
        ev = parents[parent_id][1]
        unsigned = ev.setdefault("unsigned", {})
        if isinstance(unsigned, dict):
            unsigned["m.relations"] = bundle


async def _edits_of_latest(
    conn: AsyncConnection,
    threads: Sequence[repo.Thread],
    fetched: Mapping[str, StoredEvent],
    vis: Mapping[str, VisibilityContext],
) -> dict[str, StoredEvent]:
    """Each thread's latest reply's newest edit (the spec bundles it with the reply)."""
    latest = [fetched[t.latest_event_id] for t in threads if t.latest_event_id in fetched]
    if not latest:
        return {}
    candidates: dict[str, list[Relation]] = {}
    by_id = {e.event_id: e for e in latest}
    for rel in await repo.list_relations_of(conn, list(by_id), (REPLACE,)):
        if rel.room_id == by_id[rel.relates_to].room_id:
            candidates.setdefault(rel.relates_to, []).append(rel)
    chosen: dict[str, str] = {}
    for event_id, rels in candidates.items():
        ev = by_id[event_id]
        edit = _latest_edit(ev, rels, vis[ev.room_id])
        if edit is not None:
            chosen[event_id] = edit.event_id
    if not chosen:
        return {}
    edits = {
        e.event_id: e for e in await events_repo.list_events_by_id(conn, list(chosen.values()))
    }
    return {event_id: edits[edit_id] for event_id, edit_id in chosen.items() if edit_id in edits}
