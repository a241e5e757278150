"""Room upgrades: replace a room by a new one of another version, in one work item.

https://spec.matrix.org/v1.11/client-server-api/#room-upgrades. Why one persister work
item: the tombstone, the new room and its copied state, the moved aliases and the old
room's locked power levels either all happen or none does, and no membership or power
change can slip between the permission check and the writes.
"""

from candor.core.canonical_json import JsonDict
from candor.core.tokens import random_string
from candor.matrix.constants import EventType, Membership
from candor.matrix.errors import Forbidden, NotFound
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import WriteContext
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.member_profiles import add_member_profile
from candor.matrix.rooms.rules import AuthState, check_send

# The state the spec has a server copy into the replacement room (membership is not
# copied: the old room's joined members are invited instead, and its bans carried over).
TRANSFERRED_STATE = (
    EventType.JOIN_RULES,
    EventType.HISTORY_VISIBILITY,
    EventType.GUEST_ACCESS,
    EventType.NAME,
    EventType.TOPIC,
    EventType.AVATAR,
    EventType.ENCRYPTION,
    EventType.SERVER_ACL,
    EventType.CANONICAL_ALIAS,
)
TOMBSTONE_BODY = "This room has been replaced"


def locked_power_levels(power_levels: JsonDict) -> JsonDict:
    """The old room's power levels after an upgrade, as the spec asks: `events_default`
    and `invite` raised to 50 or `users_default + 1`, whichever is greater, so that
    ordinary members stop talking and inviting there."""
    users_default = power_levels.get("users_default", 0)
    floor = max(50, (users_default if isinstance(users_default, int) else 0) + 1)
    locked = dict(power_levels)
    for key in ("events_default", "invite"):
        current = locked.get(key, 0)
        if not isinstance(current, int) or current < floor:
            locked[key] = floor
    return locked


def _may_send(state: AuthState, sender: str, event_type: str, content: JsonDict) -> bool:
    try:
        check_send(state, sender, event_type, "", content)
    except Forbidden:
        return False
    return True


async def upgrade_room(
    ctx: WriteContext, old_room_id: str, sender: str, version: str, server_name: str
) -> str:
    """Inside a work item: create the replacement room and retire the old one."""
    try:
        old = await ctx.room_state(old_room_id)
    except NotFound:
        raise Forbidden("You are not allowed to access this room") from None
    tombstone_probe: JsonDict = {"body": TOMBSTONE_BODY, "replacement_room": ""}
    check_send(old.auth, sender, EventType.TOMBSTONE, "", tombstone_probe)
    new_room_id = f"!{random_string(18)}:{server_name}"
    state = dict(old.state)
    members = [
        (key, ev.content.get("membership"))
        for (t, key), ev in state.items()
        if t == EventType.MEMBER
    ]

    tombstone = await ctx.append(
        NewEvent(
            old_room_id,
            EventType.TOMBSTONE,
            sender,
            {"body": TOMBSTONE_BODY, "replacement_room": new_room_id},
            "",
        )
    )
    await events_repo.add_room(ctx.conn, new_room_id, sender, version, ctx.clock.now_ms())

    async def put(ev_type: str, content: JsonDict, state_key: str = "") -> None:
        await ctx.append(NewEvent(new_room_id, ev_type, sender, content, state_key))

    old_create = state.get((EventType.CREATE, ""))
    create: JsonDict = {
        k: v
        for k, v in (old_create.content if old_create is not None else {}).items()
        if k not in ("creator", "room_version", "predecessor")
    }
    create.update(
        {
            "creator": sender,
            "room_version": version,
            "predecessor": {"room_id": old_room_id, "event_id": tombstone.event_id},
        }
    )
    await put(EventType.CREATE, create)
    join: JsonDict = {"membership": Membership.JOIN}
    await add_member_profile(ctx, sender, join)
    await put(EventType.MEMBER, join, sender)
    old_pl = state.get((EventType.POWER_LEVELS, ""))
    if old_pl is not None:
        await put(EventType.POWER_LEVELS, dict(old_pl.content))
    for ev_type in TRANSFERRED_STATE:
        ev = state.get((ev_type, ""))
        if ev is not None and ev.content:
            await put(ev_type, dict(ev.content))
    for user_id, membership in sorted(members, key=lambda m: m[0]):
        if membership == Membership.BAN:
            await put(EventType.MEMBER, {"membership": Membership.BAN}, user_id)
    for user_id, membership in sorted(members, key=lambda m: m[0]):
        if membership == Membership.JOIN and user_id != sender:
            invite: JsonDict = {"membership": Membership.INVITE}
            await add_member_profile(ctx, user_id, invite)
            await put(EventType.MEMBER, invite, user_id)

    # The old room's local aliases and directory listing now lead to the new room.
    await repo.move_aliases(ctx.conn, old_room_id, new_room_id)
    rules = await repo.get_room_rules(ctx.conn, old_room_id)
    if rules is not None and rules.published:
        await repo.set_published(ctx.conn, old_room_id, False)
        await repo.set_published(ctx.conn, new_room_id, True)
    # Where the upgrader has the power: the canonical alias leaves the old room, and the
    # old room's power levels are locked (the spec's "if possible").
    alias = state.get((EventType.CANONICAL_ALIAS, ""))
    if alias is not None and alias.content and _may_send(old.auth, sender, alias.type, {}):
        await ctx.append(NewEvent(old_room_id, EventType.CANONICAL_ALIAS, sender, {}, ""))
    if old_pl is not None:
        locked = locked_power_levels(old_pl.content)
        if locked != old_pl.content and _may_send(old.auth, sender, EventType.POWER_LEVELS, locked):
            await ctx.append(NewEvent(old_room_id, EventType.POWER_LEVELS, sender, locked, ""))
    return new_room_id
