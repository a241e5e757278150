"""Deactivating an account, and erasing what the person said (POST /account/deactivate).

https://spec.matrix.org/v1.11/client-server-api/#account-deactivation
Deactivation reuses what each domain already has: the password check of user-interactive
auth (`accounts`), device deletion with its tokens, keys, pending messages and pushers
(`devices`), the media purge of `candor user purge-media` (`media`), and the
`deactivated` flag that login, the token check, profiles, the user directory and web
sessions already honour. What it adds is one event-persister work item that, in one
transaction, marks the account deactivated (login refused from then on), deletes its
cross-signing keys and key backup, takes the person out of every room with a leave
event, and, for an erasure, prunes their events as a redaction would
(`deactivation/rules.py`).

Order of work: the password first (a wrong one changes nothing); then, for an erasure,
the transparency-log record that it happens (fail closed, like every access record:
no record, no erasure); then the partner layer's revocations (`on_deactivated`, given by
the composition root, since matrix may not call partners) and, for an erasure, the share
platform's pseudonyms for the person's rows (`on_erased`); then the work item; then the
devices; then the uploaded media. Every step is idempotent, so an operator can finish an
interrupted one (`candor user purge-media`).
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.accounts.schemas import AuthDict
from candor.matrix.accounts.service import AccountsService
from candor.matrix.constants import EventType, Membership
from candor.matrix.deactivation.rules import erased_content
from candor.matrix.devices.service import DevicesService
from candor.matrix.errors import Forbidden
from candor.matrix.events import facts as events_facts
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.keys import facts as keys_facts
from candor.matrix.keys.device_lists import announce_key_change
from candor.matrix.media.service import MediaService
from candor.matrix.presence import facts as presence_facts
from candor.matrix.requester import Requester
from candor.matrix.room_keys import facts as room_keys_facts
from candor.matrix.rooms import facts as rooms_facts
from candor.matrix.rooms.rules import check_membership_change
from candor.matrix.search import facts as search_facts
from candor.transparency.access import AccessLog
from candor.transparency.records import AccessAction, ActorKind

logger = logging.getLogger(__name__)

# Told about a deactivated account after its password was checked and before anything
# else changes (the partner layer ends its grants and app consents).
DeactivationHook = Callable[[str], Awaitable[None]]
# Told which events an erasure pruned (a search index drops them).

LEAVE: Final = Membership.LEAVE
# Memberships a deactivated person still holds in a room, which a leave event ends.
_HELD = frozenset({Membership.JOIN, Membership.INVITE, Membership.KNOCK})
# MSC4293: a leave (or ban) that says so asks clients to hide the person's events too,
# so a client that cached them before the erasure redacts its copies.
REDACT_EVENTS_KEY = "org.matrix.msc4293.redact_events"
ERASURE_BASIS = "the account holder asked for their account to be erased"


@dataclass(frozen=True, slots=True)
class Deactivated:
    rooms_left: int
    events_erased: int
    media_erased: int
    erasure_log_index: int | None


class DeactivationService:
    def __init__(
        self,
        *,
        persister: EventPersister,
        accounts: AccountsService,
        devices: DevicesService,
        media: MediaService,
        access: AccessLog,
        server_name: str,
        on_deactivated: Sequence[DeactivationHook] = (),
        on_erased: Sequence[DeactivationHook] = (),
    ) -> None:
        self._persister = persister
        self._accounts = accounts
        self._devices = devices
        self._media = media
        self._access = access
        self._server_name = server_name
        self._on_deactivated = tuple(on_deactivated)
        self._on_erased = tuple(on_erased)

    async def deactivate(
        self, requester: Requester, auth: AuthDict | None, *, erase: bool
    ) -> Deactivated:
        """Deactivate the requester's account (and erase their content if `erase`).

        Raises AuthRequired (401) until `auth` carries the account's password; nothing
        changes before it does.
        """
        user_id = requester.user_id
        await self._accounts.check_password_auth(requester, auth)
        log_index = None
        if erase:
            log_index = await self._access.record_or_refuse(
                actor_kind=ActorKind.SYSTEM,
                actor_id=self._server_name,
                basis=ERASURE_BASIS,
                subjects=[user_id],
                resource={"erased": ["messages", "display name", "avatar", "uploaded media"]},
                action=AccessAction.ACCOUNT_ERASED,
            )
        for hook in self._on_deactivated:
            await hook(user_id)
        if erase:
            for hook in self._on_erased:
                await hook(user_id)

        async def work(ctx: WriteContext) -> tuple[int, list[str]]:
            return await _deactivate_in(ctx, user_id, erase=erase)

        rooms_left, erased = await self._persister.run(work)
        await self._devices.delete(user_id, None)
        media = 0
        if erase:
            media = (await self._media.purge_user(user_id)).media
        logger.info(
            "deactivated %s (erase=%s): left %d rooms, erased %d events and %d media",
            user_id,
            erase,
            rooms_left,
            len(erased),
            media,
        )
        return Deactivated(rooms_left, len(erased), media, log_index)


async def _deactivate_in(ctx: WriteContext, user_id: str, *, erase: bool) -> tuple[int, list[str]]:
    """The work item: the flag, keys and backups, every room left, and (for an erasure)
    the person's events pruned. Returns how many rooms were left and the erased event ids.
    """
    conn = ctx.conn
    await accounts_facts.deactivate(conn, user_id)
    await keys_facts.delete_user_keys(conn, user_id)
    await room_keys_facts.delete_backups(conn, user_id)
    # A deactivated account leaves no status message or last-active time behind.
    await presence_facts.forget_presence(conn, user_id)
    # Before leaving: the people who share a room learn that the keys are gone.
    await announce_key_change(ctx, user_id)
    memberships = await rooms_facts.user_memberships(conn, user_id)
    left = 0
    for held in memberships:
        if held.membership not in _HELD:
            continue
        try:
            check_membership_change(await ctx.auth_state(held.room_id), user_id, user_id, LEAVE)
        except Forbidden:
            continue  # the room's rules say otherwise (none do today): stay, erase anyway
        content: JsonDict = {"membership": LEAVE}
        if erase:
            content[REDACT_EVENTS_KEY] = True
        await ctx.append(NewEvent(held.room_id, EventType.MEMBER, user_id, content, user_id))
        left += 1
    erased: list[str] = []
    if erase:
        rooms = [m.room_id for m in memberships]
        erased = await _erase_events(ctx, user_id, rooms)
    # A position of its own, even when no event was appended: a /sync window cached
    # before the pruning can then never be served for a snapshot taken after it.
    ctx.next_position()
    return left, erased


async def _erase_events(ctx: WriteContext, user_id: str, rooms: Sequence[str]) -> list[str]:
    """Prune every event by or about the person, pointing each at their membership event
    in its room (the leave just appended, or an earlier leave or ban), which clients show
    as the reason it was redacted."""
    erased: list[str] = []
    touched: set[str] = set()
    for ev in await events_facts.unredacted_events_about(ctx.conn, user_id, rooms):
        pruned = erased_content(user_id, ev.type, ev.state_key, ev.sender, ev.content)
        if pruned is None:
            continue
        room = await ctx.room_state(ev.room_id)
        member = room.state.get((EventType.MEMBER, user_id))
        if member is None or member.event_id == ev.event_id:
            continue  # never a member (cannot have sent it), or the leave itself
        await events_facts.prune_event(ctx.conn, ev, pruned, member.event_id)
        erased.append(ev.event_id)
        ctx.rooms.add(ev.room_id)
        if ev.state_key is not None:
            touched.add(ev.room_id)
    for room_id in touched:
        ctx.forget_room(room_id)  # the cached current state holds the old content
    # In the same transaction: no search ever finds the pruned words, not even one that
    # runs between the pruning and a later clean-up.
    await search_facts.forget_events(ctx.conn, erased)
    return erased
