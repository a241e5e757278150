"""Device-list tracking: who must re-fetch whose keys (`device_lists` in /sync, /keys/changes).

A change of a user's devices or keys is a row at a stream position; a user learns of it
while they share a room with the changed user. Starting to share a room counts as a
change (the newcomer's keys are news), and a user who no longer shares any room is
`left`, so clients stop tracking them and stop encrypting to their devices.
https://spec.matrix.org/v1.11/client-server-api/#tracking-the-device-list-for-a-user
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.constants import Membership
from candor.matrix.events.persister import WriteContext
from candor.matrix.keys import repository as repo
from candor.matrix.rooms import facts as rooms_facts


@dataclass(frozen=True, slots=True)
class WindowChanges:
    """What happened in (after, upto] that can change what a user must know of keys."""

    key_changes: set[str]
    # (room id, user id, membership) of current memberships changed in the window, in the
    # rooms the user is or was in.
    memberships: list[tuple[str, str, str]]


async def announce_key_change(ctx: WriteContext, user_id: str) -> None:
    """Record a change of `user_id`'s devices or keys and wake everyone who shares a room."""
    await repo.add_device_list_change(ctx.conn, user_id, ctx.next_position())
    ctx.rooms.update(await rooms_facts.joined_rooms(ctx.conn, user_id))
    ctx.users.add(user_id)


async def device_list_delta(
    conn: AsyncConnection, user_id: str, after: int, upto: int
) -> tuple[list[str], list[str]]:
    """(changed, left) for `user_id` between two stream positions."""
    window = WindowChanges(
        await repo.list_device_list_changes(conn, after, upto),
        await rooms_facts.membership_changes(conn, user_id, after, upto),
    )
    return await resolve_device_lists(conn, user_id, window)


async def resolve_device_lists(
    conn: AsyncConnection, user_id: str, window: WindowChanges
) -> tuple[list[str], list[str]]:
    """(changed, left) from the changes read for a window (by `device_list_delta`, or by
    /sync's one query)."""
    if not window.key_changes and not window.memberships:
        return [], []  # the common case: nothing more to read
    shared = await rooms_facts.users_sharing_rooms(conn, user_id)
    changed = {u for u in window.key_changes if u in shared}
    if user_id in window.key_changes:
        changed.add(user_id)
    left_candidates: set[str] = set()
    rooms_joined: list[str] = []
    rooms_left: list[str] = []
    for room_id, member, membership in window.memberships:
        if member == user_id:
            if membership == Membership.JOIN:
                rooms_joined.append(room_id)
            elif membership in (Membership.LEAVE, Membership.BAN):
                rooms_left.append(room_id)
        elif membership == Membership.JOIN:
            changed.add(member)
        elif membership in (Membership.LEAVE, Membership.BAN):
            left_candidates.add(member)
    if rooms_joined:
        changed |= await rooms_facts.joined_members_of_any(conn, rooms_joined) - {user_id}
    if rooms_left:
        left_candidates |= await rooms_facts.joined_members_of_any(conn, rooms_left)
    changed = {u for u in changed if u in shared or u == user_id}
    left = left_candidates - shared - {user_id}
    return sorted(changed), sorted(left)
