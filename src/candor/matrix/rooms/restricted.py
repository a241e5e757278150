"""Restricted rooms: joining through membership of another room (a space, usually).

https://spec.matrix.org/v1.11/client-server-api/#restricted-rooms and room version 8's
authorization rules. A room whose join rule is `restricted` (or `knock_restricted`) names
in `allow` the rooms whose joined members may join it without an invite; Element makes
one whenever a room is "visible to space members". The server checks the condition when
the join is made and records who vouched for it in the join event
(`join_authorised_via_users_server`: a joined member with the power to invite), which is
what the room's auth rules then check (`rules.py`). Candor does not federate, so every
allowed room is local: the condition is one membership read per allowed room.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, JoinRule, Membership
from candor.matrix.events import repository as events_repo
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.rules import AuthState

RESTRICTED_JOIN_RULES = frozenset({JoinRule.RESTRICTED, JoinRule.KNOCK_RESTRICTED})
ROOM_MEMBERSHIP = "m.room_membership"
# More `allow` entries than this are not looked at: each one is a read.
MAX_ALLOWED = 50


def allowed_rooms(join_rules: JsonDict | None) -> list[str]:
    """The room ids of `allow`'s `m.room_membership` entries (malformed ones skipped)."""
    allow = (join_rules or {}).get("allow")
    if not isinstance(allow, list):
        return []
    out: list[str] = []
    for entry in allow[:MAX_ALLOWED]:
        if not isinstance(entry, dict) or entry.get("type") != ROOM_MEMBERSHIP:
            continue
        room_id = entry.get("room_id")
        if isinstance(room_id, str) and room_id.startswith("!") and room_id not in out:
            out.append(room_id)
    return out


async def join_rules_content(conn: AsyncConnection, room_id: str) -> JsonDict | None:
    found = await events_repo.list_current_state(conn, room_id, [EventType.JOIN_RULES])
    return found[0].content if found else None


async def member_of_any(conn: AsyncConnection, user_id: str, rooms: Sequence[str]) -> bool:
    """Whether the user is joined to one of `rooms`."""
    for room_id in rooms:
        record = await repo.get_membership(conn, room_id, user_id)
        if record is not None and record.membership == Membership.JOIN:
            return True
    return False


async def may_join_via_membership(conn: AsyncConnection, room_id: str, user_id: str) -> bool:
    """Whether the room is restricted and the user meets its `allow` condition."""
    return await member_of_any(
        conn, user_id, allowed_rooms(await join_rules_content(conn, room_id))
    )


def authoriser(state: AuthState) -> str | None:
    """A joined member who may invite, to vouch for a restricted join: the most powerful
    first (the room's admins, who will not lose the power soon), then by user id, so the
    choice is the same on every try."""
    needed = state.level("invite")
    able = [
        user_id
        for user_id, membership in state.memberships.items()
        if membership == Membership.JOIN and state.user_level(user_id) >= needed
    ]
    if not able:
        return None
    return min(able, key=lambda u: (-state.user_level(u), u))
