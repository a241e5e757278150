"""SQL for the relations index (`event_relations`) and the thread list (`event_threads`).

Functions take the caller's connection; none commits. Every read of a parent's children
is one range of an index that starts with the parent (`store/models/relations.py`), and
the bundle reads take a whole page's parents in one statement.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from candor.store.db import NowReads, insert_on_conflict
from candor.store.models.events import Event
from candor.store.models.relations import EventRelation, EventThread

THREAD = "m.thread"


@dataclass(frozen=True, slots=True)
class Relation:
    """One row of the index: `event_id` relates to `relates_to` by `rel_type`."""

    event_id: str
    room_id: str
    relates_to: str
    rel_type: str
    type: str
    sender: str
    stream_pos: int


@dataclass(frozen=True, slots=True)
class Thread:
    room_id: str
    root_event_id: str
    latest_event_id: str
    latest_pos: int
    count: int


_RELATION_COLUMNS = (
    EventRelation.event_id,
    EventRelation.room_id,
    EventRelation.relates_to,
    EventRelation.rel_type,
    EventRelation.type,
    EventRelation.sender,
    EventRelation.stream_pos,
)
_INSERT_RELATION = insert(EventRelation)


def _relation(row: Any) -> Relation:  # Any: SQLAlchemy's variadic Row type
    event_id, room_id, relates_to, rel_type, ev_type, sender, pos = row
    return Relation(event_id, room_id, relates_to, rel_type, ev_type, sender, int(pos))


# --- writes (the persister's relations observer) -----------------------------------------


async def add_relation(conn: AsyncConnection, rel: Relation) -> None:
    """Index `rel`; a thread reply also becomes its thread's latest and counts one more."""
    await conn.execute(
        _INSERT_RELATION,
        {
            "event_id": rel.event_id,
            "room_id": rel.room_id,
            "relates_to": rel.relates_to,
            "rel_type": rel.rel_type,
            "type": rel.type,
            "sender": rel.sender,
            "stream_pos": rel.stream_pos,
        },
    )
    if rel.rel_type != THREAD:
        return
    stmt = insert_on_conflict(conn.dialect.name)(EventThread).values(
        room_id=rel.room_id,
        root_event_id=rel.relates_to,
        latest_event_id=rel.event_id,
        latest_pos=rel.stream_pos,
        count=1,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["room_id", "root_event_id"],
        set_={
            "latest_event_id": stmt.excluded.latest_event_id,
            "latest_pos": stmt.excluded.latest_pos,
            "count": EventThread.count + 1,
        },
    )
    await conn.execute(stmt)


async def remove_relation(conn: AsyncConnection, room_id: str, event_id: str) -> None:
    """Forget a redacted child; its thread's latest and count are counted again (rare)."""
    row = (
        await conn.execute(
            select(*_RELATION_COLUMNS).where(
                EventRelation.event_id == event_id, EventRelation.room_id == room_id
            )
        )
    ).first()
    if row is None:
        return
    rel = _relation(row)
    await conn.execute(delete(EventRelation).where(EventRelation.event_id == event_id))
    if rel.rel_type != THREAD:
        return
    rest = (
        select(EventRelation.event_id, EventRelation.stream_pos)
        .where(
            EventRelation.relates_to == rel.relates_to,
            EventRelation.rel_type == THREAD,
            EventRelation.room_id == room_id,
        )
        .order_by(EventRelation.stream_pos.desc())
    )
    latest = (await conn.execute(rest.limit(1))).first()
    key = (EventThread.room_id == room_id, EventThread.root_event_id == rel.relates_to)
    if latest is None:
        await conn.execute(delete(EventThread).where(*key))
        return
    count = await conn.scalar(select(func.count()).select_from(rest.subquery()))
    await conn.execute(
        update(EventThread)
        .where(*key)
        .values(latest_event_id=latest[0], latest_pos=int(latest[1]), count=int(count or 0))
    )


# --- a parent's children, one page ----------------------------------------------------


# `recurse=true` goes this deep (the spec: "SHOULD traverse at least 3 levels").
MAX_DEPTH = 3


def children_query(
    room_id: str,
    parent: str,
    *,
    rel_type: str | None,
    event_type: str | None,
    after: int,
    upto: int,
    descending: bool,
    limit: int,
    recurse: bool = False,
) -> Select[int]:
    """`list_children`' statement. Direct children: one range of the index that starts
    with the parent and the filters given, read in its order (no sort), whatever the
    room's length. With `recurse`: children, their children and theirs (MAX_DEPTH levels),
    the filters applied at every level; each level is a range of the parent index per
    event of the level above, so the cost follows the size of the parent's subtree, not
    the room's length (an event has one `m.relates_to`, so no event is reached twice).
    Both plans are tested on both engines."""
    query = select(EventRelation.stream_pos).where(
        EventRelation.stream_pos > after, EventRelation.stream_pos <= upto
    )
    if recurse:
        level = select(EventRelation.event_id, literal(1).label("depth")).where(
            EventRelation.relates_to == parent, EventRelation.room_id == room_id
        )
        tree = level.cte("tree", recursive=True)
        child = aliased(EventRelation)
        tree = tree.union_all(
            select(child.event_id, tree.c.depth + 1).where(
                child.relates_to == tree.c.event_id,
                child.room_id == room_id,
                tree.c.depth < MAX_DEPTH,
            )
        )
        query = query.join(tree, tree.c.event_id == EventRelation.event_id)
    else:
        query = query.where(EventRelation.relates_to == parent, EventRelation.room_id == room_id)
    if rel_type is not None:
        query = query.where(EventRelation.rel_type == rel_type)
    if event_type is not None:
        query = query.where(EventRelation.type == event_type)
    order = EventRelation.stream_pos.desc() if descending else EventRelation.stream_pos.asc()
    return query.order_by(order).limit(limit)


async def list_children(
    conn: AsyncConnection,
    room_id: str,
    parent: str,
    *,
    rel_type: str | None,
    event_type: str | None,
    after: int,
    upto: int,
    descending: bool,
    limit: int,
    recurse: bool = False,
) -> list[int]:
    """Stream positions of `parent`'s children (`recurse`: descendants) in (after, upto],
    in page order."""
    query = children_query(
        room_id,
        parent,
        rel_type=rel_type,
        event_type=event_type,
        after=after,
        upto=upto,
        descending=descending,
        limit=limit,
        recurse=recurse,
    )
    return [int(r[0]) for r in await conn.execute(query)]


# --- the thread list ---------------------------------------------------------------------


def threads_query(
    room_id: str, *, before: int, limit: int, participant: str | None
) -> Select[str, str, str, int, int]:
    """`list_threads`' statement: a range of (room_id, latest_pos) read backwards."""
    query = select(
        EventThread.room_id,
        EventThread.root_event_id,
        EventThread.latest_event_id,
        EventThread.latest_pos,
        EventThread.count,
    ).where(EventThread.room_id == room_id, EventThread.latest_pos <= before)
    if participant is not None:
        replied = exists().where(
            EventRelation.relates_to == EventThread.root_event_id,
            EventRelation.rel_type == THREAD,
            EventRelation.sender == participant,
        )
        started = exists().where(
            Event.event_id == EventThread.root_event_id, Event.sender == participant
        )
        query = query.where(or_(replied, started))
    return query.order_by(EventThread.latest_pos.desc()).limit(limit)


async def list_threads(
    conn: AsyncConnection, room_id: str, *, before: int, limit: int, participant: str | None
) -> list[Thread]:
    """A room's threads with latest reply at or before `before`, latest activity first;
    with `participant`, only threads they started or replied in."""
    query = threads_query(room_id, before=before, limit=limit, participant=participant)
    rows = await conn.execute(query)
    return [Thread(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


# --- bundles: a whole page's parents at once ---------------------------------------------


async def list_relations_of(
    conn: AsyncConnection, parents: Sequence[str], rel_types: Sequence[str]
) -> list[Relation]:
    """The children of any of `parents` by any of `rel_types`, oldest first."""
    if not parents:
        return []
    rows = await conn.execute(
        select(*_RELATION_COLUMNS)
        .where(
            EventRelation.relates_to.in_(list(parents)),
            EventRelation.rel_type.in_(list(rel_types)),
        )
        .order_by(EventRelation.stream_pos)
    )
    return [_relation(r) for r in rows]


async def list_threads_of(conn: AsyncConnection, roots: Sequence[str]) -> list[Thread]:
    if not roots:
        return []
    rows = await conn.execute(
        select(
            EventThread.room_id,
            EventThread.root_event_id,
            EventThread.latest_event_id,
            EventThread.latest_pos,
            EventThread.count,
        ).where(EventThread.root_event_id.in_(list(roots)))
    )
    return [Thread(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


async def threads_replied_in(conn: AsyncConnection, roots: Sequence[str], user_id: str) -> set[str]:
    """Which of these thread roots `user_id` replied to."""
    if not roots:
        return set()
    rows = await conn.execute(
        select(EventRelation.relates_to)
        .where(
            EventRelation.relates_to.in_(list(roots)),
            EventRelation.rel_type == THREAD,
            EventRelation.sender == user_id,
        )
        .distinct()
    )
    return {r[0] for r in rows}


_BUNDLED_TYPES = ("m.replace", "m.reference", THREAD)
_CHUNK = 500  # parents per statement of `any_bundled_children`


async def any_bundled_children(now: NowReads, parents: Sequence[str]) -> bool:
    """Whether any of `parents` has a child of a bundled relation type: the check that
    lets a /sync response without one skip the bundle read (on a SQLite file it runs on
    sqlite3 directly, no pooled connection: `Database.now`)."""
    for i in range(0, len(parents), _CHUNK):
        chunk = parents[i : i + _CHUNK]
        params: dict[str, object] = {f"p{n}": p for n, p in enumerate(chunk)}
        params.update({f"r{n}": r for n, r in enumerate(_BUNDLED_TYPES)})
        marks = ", ".join(f":p{n}" for n in range(len(chunk)))
        kinds = ", ".join(f":r{n}" for n in range(len(_BUNDLED_TYPES)))
        statement = text(
            "SELECT 1 FROM event_relations"  # noqa: S608 - only bound-parameter names
            f" WHERE relates_to IN ({marks}) AND rel_type IN ({kinds}) LIMIT 1"
        )
        if await now.rows(statement, params):
            return True
    return False
