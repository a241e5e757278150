"""Rooms' write path: creation, membership, state, sending and redaction.

Reading a room (state, members, events) is `reads.py`, receipts and typing are
`receipts.py`, and the alias directory is `aliases.py`. Every write goes through the event persister (one batched, durable transaction); the
auth rules in `rules.py` run inside it against the state as of that batch, so a check
and its write can never be separated by another writer.
"""

import logging

from candor.core.canonical_json import JsonDict, check_event_content, encode
from candor.core.clock import Clock
from candor.core.ids import RoomAlias, RoomID, UserID, parse_event_id
from candor.core.tokens import random_string
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.constants import (
    MEGOLM_ALGORITHM,
    ROOM_VERSION,
    SUPPORTED_ROOM_VERSIONS,
    EventType,
    HistoryVisibility,
    JoinRule,
    Membership,
    Preset,
)
from candor.matrix.errors import (
    BadJson,
    Codes,
    Forbidden,
    InvalidParam,
    MatrixError,
    NotFound,
)
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.matrix.rooms import repository as repo
from candor.matrix.rooms.aliases import RoomAliasesService
from candor.matrix.rooms.member_profiles import add_member_profile
from candor.matrix.rooms.restricted import (
    RESTRICTED_JOIN_RULES,
    allowed_rooms,
    authoriser,
    member_of_any,
)
from candor.matrix.rooms.rules import (
    AuthState,
    check_encryption_change,
    check_membership_change,
    check_redact,
    check_redact_target,
    check_send,
    prune_content,
)
from candor.matrix.rooms.schemas import CreateRoomBody
from candor.matrix.rooms.upgrade import upgrade_room
from candor.store.db import Database

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 65536


async def _auth_state(ctx: WriteContext, room_id: str) -> AuthState:
    """The room's auth state; an unknown room is the same 403 as a private one."""
    try:
        return await ctx.auth_state(room_id)
    except NotFound:
        raise Forbidden("You are not allowed to access this room") from None


def _check_content(ev_type: str, content: JsonDict) -> None:
    """Client content for an event: canonical JSON (no floats) and within the size limit."""
    check_event_content(content)
    if len(encode(content)) + len(ev_type) + 512 > MAX_EVENT_BYTES:
        raise MatrixError(413, Codes.TOO_LARGE, "Event too large")


class RoomsService:
    """The write path of a room: every method here appends events through the persister."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        persister: EventPersister,
        ratelimiter: RateLimiter,
        aliases: RoomAliasesService,
        *,
        server_name: str,
        encrypt_by_default: bool,
    ) -> None:
        self._db = db
        self._clock = clock
        self._persister = persister
        self._ratelimiter = ratelimiter
        self._aliases = aliases
        self._server_name = server_name
        self._encrypt_by_default = encrypt_by_default

    # --- creation --------------------------------------------------------------------

    async def create_room(self, requester: Requester, body: CreateRoomBody) -> str:
        """POST /createRoom: all initial events in one atomic work item."""
        await self._ratelimiter.check(requester.user_id)
        version = body.room_version or ROOM_VERSION
        if version not in SUPPORTED_ROOM_VERSIONS:
            raise MatrixError(400, Codes.UNSUPPORTED_ROOM_VERSION, "Unsupported room version")
        if body.visibility not in (None, "public", "private"):
            raise InvalidParam("visibility must be 'public' or 'private'")
        preset = body.preset or (
            Preset.PUBLIC_CHAT if body.visibility == "public" else Preset.PRIVATE_CHAT
        )
        if preset not in tuple(Preset):
            raise BadJson(f"Unknown preset {preset!r}")
        invitees = [str(UserID.parse(u)) for u in body.invite]
        alias = None
        if body.room_alias_name is not None:
            if (
                not body.room_alias_name
                or ":" in body.room_alias_name
                or " " in body.room_alias_name
            ):
                raise InvalidParam("Invalid room_alias_name")
            alias = str(RoomAlias.parse(f"#{body.room_alias_name}:{self._server_name}"))
        check_event_content(body.creation_content, where="creation_content")
        check_event_content(body.power_level_content_override, where="power_level_content_override")
        for ev in body.initial_state:
            _check_content(ev.type, ev.content)
            if ev.type == EventType.ENCRYPTION:
                check_encryption_change(None, ev.state_key, ev.content)
        # Encrypted by default, as people expect of a private conversation.
        encrypt = self._encrypt_by_default and (
            preset in (Preset.PRIVATE_CHAT, Preset.TRUSTED_PRIVATE_CHAT) or body.is_direct
        )
        sender = requester.user_id
        room_id = f"!{random_string(18)}:{self._server_name}"

        async def work(ctx: WriteContext) -> str:
            now = self._clock.now_ms()
            if alias is not None:
                try:
                    await repo.add_alias(ctx.conn, alias, room_id, sender)
                except repo.AliasExists:
                    raise MatrixError(400, Codes.ROOM_IN_USE, "Room alias already taken") from None
            await events_repo.add_room(ctx.conn, room_id, sender, version, now)
            if body.visibility == "public":
                await repo.set_published(ctx.conn, room_id, True)  # listed in /publicRooms
            create: JsonDict = dict(body.creation_content or {})
            create.update({"creator": sender, "room_version": version})

            async def put(ev_type: str, content: JsonDict, state_key: str = "") -> None:
                await ctx.append(NewEvent(room_id, ev_type, sender, content, state_key))

            await put(EventType.CREATE, create)
            join: JsonDict = {"membership": Membership.JOIN}
            await add_member_profile(ctx, sender, join)
            await put(EventType.MEMBER, join, sender)
            await put(EventType.POWER_LEVELS, _initial_power_levels(body, preset, invitees, sender))
            if alias is not None:
                await put(EventType.CANONICAL_ALIAS, {"alias": alias})
            given = {(e.type, e.state_key) for e in body.initial_state}
            for ev_type, content in self._preset_state(preset):
                if (ev_type, "") not in given:
                    await put(ev_type, content)
            if encrypt and (EventType.ENCRYPTION, "") not in given:
                await put(EventType.ENCRYPTION, {"algorithm": MEGOLM_ALGORITHM})
            for ev in body.initial_state:
                if ev.type in (EventType.CREATE, EventType.MEMBER, EventType.POWER_LEVELS):
                    raise BadJson(f"{ev.type} cannot be given in initial_state")
                await put(ev.type, ev.content, ev.state_key)
            if body.name is not None:
                await put(EventType.NAME, {"name": body.name})
            if body.topic is not None:
                await put(EventType.TOPIC, {"topic": body.topic})
            for invitee in invitees:
                invite: JsonDict = {"membership": Membership.INVITE}
                if body.is_direct:
                    invite["is_direct"] = True
                await add_member_profile(ctx, invitee, invite)
                await put(EventType.MEMBER, invite, invitee)
            return room_id

        return await self._persister.run(work)

    @staticmethod
    def _preset_state(preset: str) -> list[tuple[str, JsonDict]]:
        public = preset == Preset.PUBLIC_CHAT
        return [
            (EventType.JOIN_RULES, {"join_rule": JoinRule.PUBLIC if public else JoinRule.INVITE}),
            (EventType.HISTORY_VISIBILITY, {"history_visibility": HistoryVisibility.SHARED}),
            (EventType.GUEST_ACCESS, {"guest_access": "forbidden" if public else "can_join"}),
        ]

    # --- membership ------------------------------------------------------------------

    async def join(self, requester: Requester, room_id_or_alias: str) -> str:
        room_id = await self._aliases.resolve_room(room_id_or_alias)
        await self._change_membership(requester, room_id, requester.user_id, Membership.JOIN, None)
        return room_id

    async def knock(self, requester: Requester, room_id_or_alias: str, reason: str | None) -> str:
        """POST /knock: ask to be let in; the room's admins answer with an invite or a kick.

        Only a room whose join rule is `knock` or `knock_restricted` takes one (`rules.py`).
        An unknown room is a 404 here, as the spec's knocking API has it.
        """
        room_id = await self._aliases.resolve_room(room_id_or_alias)
        async with self._db.read() as conn:
            if await repo.get_room_rules(conn, room_id) is None:
                raise NotFound("Room not found")
        await self._change_membership(
            requester, room_id, requester.user_id, Membership.KNOCK, reason
        )
        return room_id

    async def upgrade(self, requester: Requester, room_id: str, new_version: str) -> str:
        """POST /rooms/{roomId}/upgrade: the replacement room's id (`upgrade.py`)."""
        await self._ratelimiter.check(requester.user_id)
        room_id = str(RoomID.parse(room_id))
        if new_version not in SUPPORTED_ROOM_VERSIONS:
            raise MatrixError(400, Codes.UNSUPPORTED_ROOM_VERSION, "Unsupported room version")

        async def work(ctx: WriteContext) -> str:
            return await upgrade_room(
                ctx, room_id, requester.user_id, new_version, self._server_name
            )

        return await self._persister.run(work)

    async def leave(self, requester: Requester, room_id: str, reason: str | None) -> None:
        await self._change_membership(
            requester, room_id, requester.user_id, Membership.LEAVE, reason
        )

    async def invite(
        self, requester: Requester, room_id: str, target: str, reason: str | None
    ) -> None:
        await self._change_membership(requester, room_id, target, Membership.INVITE, reason)

    async def kick(
        self, requester: Requester, room_id: str, target: str, reason: str | None
    ) -> None:
        if target == requester.user_id:
            raise Forbidden("Use /leave to leave a room")
        await self._change_membership(requester, room_id, target, Membership.LEAVE, reason)

    async def ban(
        self, requester: Requester, room_id: str, target: str, reason: str | None
    ) -> None:
        await self._change_membership(requester, room_id, target, Membership.BAN, reason)

    async def unban(
        self, requester: Requester, room_id: str, target: str, reason: str | None
    ) -> None:
        async with self._db.read() as conn:
            current = await repo.get_membership(conn, room_id, target)
        if current is None or current.membership != Membership.BAN:
            raise Forbidden(f"{target} is not banned")
        await self._change_membership(requester, room_id, target, Membership.LEAVE, reason)

    async def _change_membership(
        self,
        requester: Requester,
        room_id: str,
        target: str,
        membership: str,
        reason: str | None,
        extra: JsonDict | None = None,
    ) -> str:
        await self._ratelimiter.check(requester.user_id)
        target = str(UserID.parse(target))
        sender = requester.user_id
        content: JsonDict = {"membership": membership, **(extra or {})}
        if reason is not None:
            content["reason"] = reason[:1000]

        async def work(ctx: WriteContext) -> str:
            state = await _auth_state(ctx, room_id)
            if (
                membership == Membership.INVITE
                and target != sender
                and not await accounts_facts.user_exists(ctx.conn, target)
            ):
                raise NotFound(f"Unknown user {target}")
            body = dict(content)
            body.pop(VOUCHER, None)  # only the server vouches, after checking `allow`
            await add_member_profile(ctx, target, body)
            if membership == Membership.JOIN and state.membership(target) == Membership.JOIN:
                current = (await ctx.room_state(room_id)).state.get((EventType.MEMBER, target))
                if current is not None and current.content == body:
                    return current.event_id  # joined already, as this: nothing changes
            if membership == Membership.JOIN and sender == target:
                await _vouch_for_restricted_join(ctx, room_id, state, target, body)
            check_membership_change(state, sender, target, membership, body)
            ev = await ctx.append(NewEvent(room_id, EventType.MEMBER, sender, body, target))
            return ev.event_id

        return await self._persister.run(work)

    async def forget(self, requester: Requester, room_id: str) -> None:
        async with self._db.write() as conn:
            current = await repo.get_membership(conn, room_id, requester.user_id)
            if current is None:
                raise NotFound("You have never been in this room")
            if current.membership in (Membership.JOIN, Membership.INVITE):
                raise MatrixError(
                    400, Codes.UNKNOWN, "You must leave the room before forgetting it"
                )
            await repo.set_forgotten(conn, room_id, requester.user_id)

    async def refresh_member_profiles(self, requester: Requester) -> None:
        """After a profile change, a new join event in each joined room, as Synapse sends,
        so the other members see the new name and avatar.

        One work item for all the rooms, and no rate limit: the user made one change. A
        room whose member event already says the same is left alone, and so is one the
        user left meanwhile.
        """
        user_id = requester.user_id
        async with self._db.read() as conn:
            rooms = await repo.list_joined_rooms(conn, user_id)
        if not rooms:
            return

        async def work(ctx: WriteContext) -> None:
            content: JsonDict = {"membership": Membership.JOIN}
            await add_member_profile(ctx, user_id, content)
            for room_id in rooms:
                room = await ctx.room_state(room_id)
                current = room.state.get((EventType.MEMBER, user_id))
                if room.auth.membership(user_id) != Membership.JOIN or (
                    current is not None and current.content == content
                ):
                    continue
                await ctx.append(NewEvent(room_id, EventType.MEMBER, user_id, content, user_id))

        await self._persister.run(work)

    # --- state and messages ------------------------------------------------------------

    async def set_state(
        self,
        requester: Requester,
        room_id: str,
        event_type: str,
        state_key: str,
        content: JsonDict,
    ) -> str:
        _check_content(event_type, content)
        if event_type == EventType.MEMBER:
            membership = content.get("membership")
            if not isinstance(membership, str):
                raise BadJson("membership must be a string")
            extra = {k: v for k, v in content.items() if k not in ("membership", "reason")}
            reason = content.get("reason")
            return await self._change_membership(
                requester,
                room_id,
                state_key,
                membership,
                reason if isinstance(reason, str) else None,
                extra,
            )
        if event_type == EventType.CREATE:
            raise Forbidden("The room already exists")
        return await self._send(requester, room_id, event_type, state_key, content, None)

    async def send(
        self, requester: Requester, room_id: str, event_type: str, txn_id: str, content: JsonDict
    ) -> str:
        _check_content(event_type, content)
        if event_type in (EventType.CREATE, EventType.MEMBER, EventType.POWER_LEVELS):
            # State types sent as messages would bypass the state rules.
            raise Forbidden(f"{event_type} must be sent as a state event")
        return await self._send(
            requester, room_id, event_type, None, content, (requester.device_id, "send", txn_id)
        )

    async def _send(
        self,
        requester: Requester,
        room_id: str,
        event_type: str,
        state_key: str | None,
        content: JsonDict,
        txn: tuple[str, str, str] | None,
    ) -> str:
        await self._ratelimiter.check(requester.user_id)
        sender = requester.user_id
        room_id = str(RoomID.parse(room_id))

        async def work(ctx: WriteContext) -> str:
            if txn is not None:
                existing = await events_repo.get_txn_event(ctx.conn, sender, *txn)
                if existing is not None:
                    return existing
            state = await _auth_state(ctx, room_id)
            check_send(state, sender, event_type, state_key, content)
            if event_type == EventType.ENCRYPTION:
                room = await ctx.room_state(room_id)
                current = room.state.get((EventType.ENCRYPTION, ""))
                check_encryption_change(
                    current.content if current is not None else None, state_key, content
                )
            ev = await ctx.append(
                NewEvent(room_id, event_type, sender, content, state_key, txn=txn)
            )
            return ev.event_id

        # Checks come before the single write, so no savepoint is needed.
        return await self._persister.run(work, savepoint=False)

    async def redact(
        self, requester: Requester, room_id: str, event_id: str, txn_id: str, reason: str | None
    ) -> str:
        await self._ratelimiter.check(requester.user_id)
        room_id = str(RoomID.parse(room_id))
        event_id = parse_event_id(event_id)
        sender = requester.user_id
        txn = (requester.device_id, "redact", txn_id)
        content: JsonDict = {"redacts": event_id}
        if reason is not None:
            content["reason"] = reason[:1000]

        async def work(ctx: WriteContext) -> str:
            existing = await events_repo.get_txn_event(ctx.conn, sender, *txn)
            if existing is not None:
                return existing
            target = await events_repo.get_event(ctx.conn, event_id)
            if target is None or target.room_id != room_id:
                raise NotFound("Event not found")
            state = await _auth_state(ctx, room_id)
            check_redact(state, sender, target.sender)
            check_redact_target(target.type, target.state_key)
            ev = await ctx.append(
                NewEvent(room_id, EventType.REDACTION, sender, content, None, event_id, txn)
            )
            if target.redacted_by is None:
                pruned = prune_content(target.type, target.content)
                await events_repo.redact_event(ctx.conn, event_id, pruned, ev.event_id)
                if target.state_key is not None:
                    await events_repo.redact_prev_content(ctx.conn, target, pruned)
                    ctx.forget_room(room_id)  # the cached current state holds the old content
            return ev.event_id

        return await self._persister.run(work)


def _initial_power_levels(
    body: CreateRoomBody, preset: str, invitees: list[str], creator: str
) -> JsonDict:
    """The spec's defaults, then the preset, then the client's override (top-level keys)."""
    users: dict[str, object] = {creator: 100}
    if preset == Preset.TRUSTED_PRIVATE_CHAT:
        for invitee in invitees:
            users[invitee] = 100
    pl: JsonDict = {
        "users": users,
        "users_default": 0,
        "events": {
            EventType.NAME: 50,
            EventType.POWER_LEVELS: 100,
            EventType.HISTORY_VISIBILITY: 100,
            EventType.CANONICAL_ALIAS: 50,
            EventType.AVATAR: 50,
            "m.room.tombstone": 100,
            "m.room.server_acl": 100,
            EventType.ENCRYPTION: 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "historical": 100,
    }
    pl.update(body.power_level_content_override or {})
    return pl


VOUCHER = "join_authorised_via_users_server"


async def _vouch_for_restricted_join(
    ctx: WriteContext, room_id: str, state: AuthState, user_id: str, body: JsonDict
) -> None:
    """A join into a restricted room by a member of one of its allowed rooms gets a
    joined member with invite power as its voucher (`restricted.py`); any other join is
    left for the auth rules to judge."""
    if state.join_rule not in RESTRICTED_JOIN_RULES or state.membership(user_id) in (
        Membership.JOIN,
        Membership.INVITE,
    ):
        return
    rules = (await ctx.room_state(room_id)).state.get((EventType.JOIN_RULES, ""))
    allowed = allowed_rooms(rules.content if rules is not None else None)
    if await member_of_any(ctx.conn, user_id, allowed):
        voucher = authoriser(state)
        if voucher is not None:
            body[VOUCHER] = voucher
