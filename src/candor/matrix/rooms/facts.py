"""What another domain may learn about a room without a requester: members, encryption, positions.

The rooms repository is this domain's own (an import-linter contract keeps it so);
other matrix domains (admin, events, keys, sync) and the partner domains read rooms here.
The partner consent domain decides on these facts (who is joined, whether the room is
encrypted, where its latest membership event is), so they are read on the caller's
connection: a grant's row and the room's facts then come from one snapshot. Posting a
notice runs inside an event-persister work item (`WriteContext`), the single writer of
room state, so a check on the facts and the notice cannot be separated by a membership
change (the persister's lock, an advisory lock on PostgreSQL, closes that race).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, Membership
from candor.matrix.errors import Forbidden, NotFound
from candor.matrix.events import facts as events_facts
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import WriteContext
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.repository import MembershipRecord as MembershipRecord
from candor.matrix.rooms.rules import check_send


@dataclass(frozen=True, slots=True)
class RoomFacts:
    room_id: str
    joined: frozenset[str]
    encrypted: bool
    # The stream position of the room's latest membership event (join, leave, ban…).
    membership_pos: int


async def room_facts(conn: AsyncConnection, room_ids: Sequence[str]) -> dict[str, RoomFacts]:
    """Facts of each known room; an unknown room (or one nobody ever joined) is absent."""
    positions = await repo.get_membership_positions(conn, room_ids)
    joined = await repo.list_joined_members(conn, list(positions))
    out = {}
    for room_id, pos in positions.items():
        encryption = await events_repo.get_current_state_event(
            conn, room_id, EventType.ENCRYPTION, ""
        )
        out[room_id] = RoomFacts(
            room_id=room_id,
            joined=joined.get(room_id, frozenset()),
            # Any m.room.encryption state means the clients encrypt: the server holds
            # ciphertext only (DESIGN invariant 3). Its algorithm cannot be removed.
            encrypted=encryption is not None,
            membership_pos=pos,
        )
    return out


async def room_members(
    conn: AsyncConnection, room_id: str, membership: str | None = Membership.JOIN
) -> list[str]:
    """The room's members with `membership` (None: any membership), sorted by user id."""
    return await repo.list_room_members(conn, room_id, membership)


async def membership_events_since(
    conn: AsyncConnection, room_id: str, after: int
) -> list[tuple[str, str, str | None]]:
    """(user, membership, previous membership) of the room's member events after `after`."""
    return await repo.list_membership_events_since(conn, room_id, after)


async def stream_position(conn: AsyncConnection) -> int:
    """The events stream position as committed; events own it (`events/facts.py`)."""
    return await events_facts.stream_position(conn)


async def may_send_message(ctx: WriteContext, room_id: str, sender: str) -> bool:
    """Whether `sender` may send an `m.room.message` here now (membership, power levels).

    Read inside the caller's persister work item, so the answer holds for an append in
    the same item. An unknown room is a no.
    """
    try:
        check_send(await ctx.auth_state(room_id), sender, EventType.MESSAGE, None, {})
    except (Forbidden, NotFound):
        return False
    return True


async def append_notice(
    ctx: WriteContext, room_id: str, sender: str, content: JsonDict
) -> tuple[str, int]:
    """Append an `m.room.message` in `sender`'s name inside the caller's persister work item.

    The room's auth rules apply as to any message (`Forbidden` otherwise): a notice in
    someone's name is their message, and a member the room muted must not be able to
    post through a side door. Callers check `may_send_message` first to refuse clearly.
    """
    check_send(await ctx.auth_state(room_id), sender, EventType.MESSAGE, None, content)
    ev = await ctx.append(NewEvent(room_id, EventType.MESSAGE, sender, content, None))
    return ev.event_id, ev.stream_pos


async def joined_rooms(conn: AsyncConnection, user_id: str) -> list[str]:
    return await repo.list_joined_rooms(conn, user_id)


async def user_memberships(conn: AsyncConnection, user_id: str) -> list[MembershipRecord]:
    """Every room the user has a membership in (joined, invited, left, banned).

    `MembershipRecord` is re-exported here for /sync, which reads it; it is defined in the
    repository with the query that fills it."""
    return await repo.list_user_memberships(conn, user_id)


async def member_counts(conn: AsyncConnection, room_id: str) -> dict[str, int]:
    """How many of the room's members have each membership."""
    return await repo.count_members(conn, room_id)


async def summaries(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str
) -> dict[str, JsonDict]:
    """Each room's `summary` for `user_id` (heroes: the first five other members by user
    id, whatever their membership), read for all the rooms in two queries."""
    counts = await repo.count_members_of_rooms(conn, room_ids)
    heroes = await repo.list_first_members_of_rooms(conn, room_ids, user_id, HEROES)
    return {room_id: summary_of(heroes[room_id], counts[room_id]) for room_id in room_ids}


HEROES = 5


def summary_of(heroes: list[str], counts: dict[str, int]) -> JsonDict:
    return {
        "m.heroes": heroes[:HEROES],
        "m.joined_member_count": counts.get(Membership.JOIN, 0),
        "m.invited_member_count": counts.get(Membership.INVITE, 0),
    }


async def receipts_changed(
    conn: AsyncConnection, room_ids: Sequence[str], *, after: int, upto: int
) -> list[tuple[str, str, str, str, str, int]]:
    """(room_id, event_id, receipt_type, user_id, thread_id, ts) of the rooms' receipts
    changed in (after, upto], private ones included: the caller filters by reader."""
    return await repo.list_receipts(conn, room_ids, after=after, upto=upto)


async def users_sharing_rooms(conn: AsyncConnection, user_id: str) -> set[str]:
    """Users joined to a room the user is joined to (the user included)."""
    return await repo.list_users_sharing_rooms(conn, user_id)


async def joined_members_of_any(conn: AsyncConnection, room_ids: Sequence[str]) -> set[str]:
    """Users joined to at least one of the rooms."""
    joined = await repo.list_joined_members(conn, room_ids)
    return set().union(*joined.values())


async def membership_changes(
    conn: AsyncConnection, user_id: str, after: int, upto: int
) -> list[tuple[str, str, str]]:
    """(room id, user id, membership) of memberships changed in (after, upto] in the rooms
    the user is or was in: what can change whose keys the user must track."""
    return await repo.list_membership_changes(conn, user_id, after, upto)


async def room_name(conn: AsyncConnection, room_id: str) -> str | None:
    ev = await events_repo.get_current_state_event(conn, room_id, EventType.NAME, "")
    name = None if ev is None else ev.content.get("name")
    return name if isinstance(name, str) and name else None


async def room_names(conn: AsyncConnection, room_ids: Sequence[str]) -> dict[str, str]:
    """The current names of these rooms, in one query (a room without a name is absent)."""
    found = await events_repo.list_current_state_of_rooms(conn, room_ids, [EventType.NAME])
    names = {ev.room_id: ev.content.get("name") for ev in found}
    return {room: name for room, name in names.items() if isinstance(name, str) and name}


async def member_display_name(conn: AsyncConnection, room_id: str, user_id: str) -> str | None:
    """The display name the user's current member event in the room carries, if any."""
    ev = await events_repo.get_current_state_event(conn, room_id, EventType.MEMBER, user_id)
    name = None if ev is None else ev.content.get("displayname")
    return name if isinstance(name, str) and name else None
