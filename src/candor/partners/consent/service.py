"""Room grants: asking every member to let an app read a room, and who may read what now.

DESIGN invariant 1 (all-party consent): an app reads a room only while a grant that every
currently joined member accepted, under the app's current agreement version, is live, and
then only what those members wrote (the Inbox API withholds everyone else's events). The
decisions are `rules.py`'s; this module loads the facts and writes the outcome of asking,
accepting, declining and revoking. Every read of a grant goes through
`GrantObserver.observe` (`observer.py`), which re-checks the room's membership, the clock
and the app, and the live-grant reads the Inbox API makes are the observer's too
(`live_grants`, `live_grant` and `read_under_grant` here hand them over).

A request runs inside an event-persister work item: the room's members are read, the
grant is written and the notice is posted in one transaction under the persister's lock,
so no membership change can slip between the check and the grant, and two requests for
the same (app, room) cannot both pass the duplicate check. The app's row is locked in
that transaction too, so a suspension or a new agreement either sees the grant and ends
it, or is seen and refuses it. The notice is the asker's message: only someone who may
send messages in the room (its power levels) may ask; anyone else is refused.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.ids import RoomID
from candor.core.tokens import random_string
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.rooms.facts import (
    append_notice,
    joined_rooms,
    may_send_message,
    room_facts,
    room_name,
    stream_position,
)
from candor.partners.apps.service import App, PartnerAppsService
from candor.partners.consent import repository as repo
from candor.partners.consent.notice import notice_content
from candor.partners.consent.observer import GrantObserver, LiveGrant
from candor.partners.consent.repository import GrantRow, MemberRow
from candor.partners.consent.rules import (
    INBOX_SCOPE,
    OPEN,
    Decision,
    Observation,
    Status,
    check_app,
    check_days,
    decided_status,
    expiry,
    grant_ended,
    grant_exists,
    not_pending,
    room_encrypted,
    window_start,
)
from candor.partners.errors import PartnerError, forbidden, invalid, not_found
from candor.store.db import Database

MAX_ID_LENGTH = 64
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MemberAnswer:
    user_id: str
    decision: str
    include_history: bool
    decided_ts: int | None


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    client_id: str
    app_name: str
    room_id: str
    room_name: str | None
    requested_by: str
    status: str
    days: int
    created_ts: int
    live_ts: int | None
    expires_ts: int | None
    ended_ts: int | None
    ended_reason: str | None
    agreement_version: int
    members: tuple[MemberAnswer, ...]

    def answer_of(self, user_id: str) -> MemberAnswer | None:
        return next((m for m in self.members if m.user_id == user_id), None)


@dataclass(frozen=True, slots=True)
class GrantNamed:
    """Which room a grant was for and whom it asked: how a read under it is named."""

    grant_id: str
    client_id: str
    room_id: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShareOptions:
    """What the web form offers: the rooms one may share and the apps one may share with."""

    rooms: tuple[tuple[str, str | None], ...]  # (room id, name), unencrypted, joined
    apps: tuple[App, ...]  # approved apps that asked for inbox.read


def _may_not_send() -> PartnerError:
    return forbidden(
        "You may not send messages in this room, so you cannot ask its members: the "
        "request is a notice in your name"
    )


def _not_found() -> PartnerError:
    # The same answer for a missing room or grant and one the person is not part of.
    return not_found("No such room or grant, or you are not one of its members")


class ConsentService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        persister: EventPersister,
        ratelimiter: RateLimiter,
        apps: PartnerAppsService,
        grants: GrantObserver,
        answer_url: str,
    ) -> None:
        """`answer_url` is where the notice sends members to answer: the grants page under
        the configured public base URL (never a request's Host header: every member sees it)."""
        self._db = db
        self._clock = clock
        self._persister = persister
        self._ratelimiter = ratelimiter
        self._apps = apps
        self._grants = grants
        self._answer_url = answer_url

    # --- asking ---------------------------------------------------------------------------

    async def request(
        self,
        user_id: str,
        room_id: str,
        client_id: str,
        *,
        days: int | None,
        include_history: bool,
    ) -> Grant:
        """Ask every joined member of `room_id` to let `client_id` read it for `days`.

        Everything is checked before anything is written. The asker's request is their
        acceptance; if they are the only member, the grant is live at once. A notice in
        the room (in the asker's name, since it is their request) tells every member, so
        only someone who may send messages there may ask (403 otherwise, nothing written).
        The grant holds under the app's agreement version of this moment.
        """
        room_id = str(RoomID.parse(room_id))
        days = check_days(days)
        if not client_id or len(client_id) > MAX_ID_LENGTH:
            raise invalid("client_id must be an app's id")
        app = await self._apps.find(client_id)
        if app is None:
            raise not_found("No such app")
        check_app(app.status, app.scopes)
        await self._ratelimiter.check(user_id)

        async def work(ctx: WriteContext) -> str:
            conn = ctx.conn
            facts = (await room_facts(conn, [room_id])).get(room_id)
            if facts is None or user_id not in facts.joined:
                raise _not_found()
            if facts.encrypted:
                raise room_encrypted()
            if not await may_send_message(ctx, room_id, user_id):
                raise _may_not_send()
            # The app as of this transaction, its row locked (see `repo.lock_app`).
            app_status, agreement_version = await repo.lock_app(conn, client_id)
            check_app(app_status, app.scopes)
            # Serialised by the persister's lock: no other request can pass this check
            # for the same (app, room) until this one commits.
            existing = await repo.list_open_grants(conn, client_id, room_id, list(OPEN))
            for grant, seen in (await self._grants.observe(conn, existing)).items():
                if seen.status in OPEN:
                    raise grant_exists(grant.grant_id)
            now = self._clock.now_ms()
            grant_id = "grant_" + random_string(16)
            members = sorted(facts.joined)
            decisions = {
                u: Decision.ACCEPTED if u == user_id else Decision.PENDING for u in members
            }
            status = decided_status(decisions)
            notice = notice_content(
                user_id, app, days, include_history, status, self._answer_url, grant_id
            )
            _, pos = await append_notice(ctx, room_id, user_id, notice)
            live = status == Status.LIVE
            await repo.add_grant(
                conn,
                GrantRow(
                    grant_id=grant_id,
                    client_id=client_id,
                    room_id=room_id,
                    requested_by=user_id,
                    status=status,
                    days=days,
                    created_ts=now,
                    live_ts=now if live else None,
                    expires_ts=expiry(now, days) if live else None,
                    ended_ts=None,
                    ended_reason=None,
                    # The notice is the last event before the grant: the window opens after it.
                    window_from=window_start([include_history], pos + 1) if live else None,
                    members_pos=facts.membership_pos,
                    agreement_version=agreement_version,
                ),
            )
            await repo.add_members(
                conn,
                [
                    MemberRow(
                        grant_id,
                        u,
                        decisions[u],
                        include_history if u == user_id else False,
                        now if u == user_id else None,
                    )
                    for u in members
                ],
            )
            return grant_id

        grant_id = await self._persister.run(work)
        return await self.get(user_id, grant_id)

    # --- answering ------------------------------------------------------------------------

    async def accept(self, user_id: str, grant_id: str, include_history: bool | None) -> Grant:
        """Accept a pending grant; the last acceptance makes it live (and starts its clock).

        `include_history` None keeps the member's earlier choice. The window opens at the
        stream position when it goes live, or at 0 only if every member ticked the box.
        """
        async with self._db.write() as conn:
            await self._accept(conn, user_id, grant_id, include_history)
        return await self.get(user_id, grant_id)

    async def _accept(
        self, conn: AsyncConnection, user_id: str, grant_id: str, include_history: bool | None
    ) -> None:
        grant, members, seen = await self._access(conn, user_id, grant_id)
        if seen.status != Status.PENDING:
            raise not_pending(seen.status)
        mine = next(m for m in members if m.user_id == user_id)
        history = mine.include_history if include_history is None else include_history
        now = self._clock.now_ms()
        await repo.set_decision(conn, grant_id, user_id, Decision.ACCEPTED, history, now)
        decisions = {m.user_id: m.decision for m in members} | {user_id: Decision.ACCEPTED}
        if decided_status(decisions) != Status.LIVE:
            return
        histories = [history if m.user_id == user_id else m.include_history for m in members]
        facts = (await room_facts(conn, [grant.room_id]))[grant.room_id]
        pos = await stream_position(conn)
        await repo.set_status(
            conn,
            grant_id,
            expected=Status.PENDING,
            status=Status.LIVE,
            live_ts=now,
            expires_ts=expiry(now, grant.days),
            window_from=window_start(histories, pos + 1),
            # Only profile updates can lie between the recorded position and this one
            # (`observe` just checked): any later membership change comes after it.
            members_pos=facts.membership_pos,
        )

    async def decline(self, user_id: str, grant_id: str) -> Grant:
        """Decline a pending grant: one member's no ends it for everyone."""
        async with self._db.write() as conn:
            _, _, seen = await self._access(conn, user_id, grant_id)
            if seen.status != Status.PENDING:
                raise not_pending(seen.status)
            now = self._clock.now_ms()
            await repo.set_decision(conn, grant_id, user_id, Decision.DECLINED, False, now)
            await self._grants.end(
                conn, grant_id, Status.PENDING, Status.DECLINED, f"declined by {user_id}"
            )
        return await self.get(user_id, grant_id)

    async def revoke(self, user_id: str, grant_id: str) -> Grant:
        """Any member ends a pending or live grant, at once."""
        async with self._db.write() as conn:
            _, _, seen = await self._access(conn, user_id, grant_id)
            if seen.status not in OPEN:
                raise grant_ended(seen.status)
            await self._grants.end(
                conn, grant_id, seen.status, Status.REVOKED, f"revoked by {user_id}"
            )
        return await self.get(user_id, grant_id)

    # --- reading --------------------------------------------------------------------------

    async def get(self, user_id: str, grant_id: str) -> Grant:
        async with self._db.write() as conn:
            grant, _, _ = await self._access(conn, user_id, grant_id)
            return (await self._views(conn, [grant]))[0]

    async def list_for(self, user_id: str) -> list[Grant]:
        """Every grant `user_id` was asked about, newest first, each as it stands now."""
        async with self._db.write() as conn:
            grants = await repo.list_grants_of_member(conn, user_id)
            await self._grants.observe(conn, grants)
            return await self._views(conn, grants)

    async def grants_named(self, grant_ids: Sequence[str]) -> dict[str, GrantNamed]:
        """Each known grant's room and members, in one read (an access page names many).

        The caller shows them only to people an access record names under that grant; the
        members are among the record's subjects, so this tells them nothing new.
        """
        async with self._db.read() as conn:
            grants = await repo.get_grants(conn, sorted(set(grant_ids)))
            members = await repo.list_members(conn, [g.grant_id for g in grants])
        return {
            g.grant_id: GrantNamed(
                g.grant_id,
                g.client_id,
                g.room_id,
                tuple(m.user_id for m in members.get(g.grant_id, [])),
            )
            for g in grants
        }

    async def share_options(self, user_id: str) -> ShareOptions:
        async with self._db.read() as conn:
            room_ids = await joined_rooms(conn, user_id)
            facts = await room_facts(conn, room_ids)
            rooms = [
                (r, await room_name(conn, r))
                for r in sorted(room_ids)
                if r in facts and not facts[r].encrypted
            ]
        apps = [a for a in await self._apps.list_approved() if INBOX_SCOPE in a.scopes]
        return ShareOptions(tuple(rooms), tuple(apps))

    # --- what may be read now (the observer's; `observer.py`) ------------------------------

    async def live_grants(self, client_id: str, user_id: str) -> list[LiveGrant]:
        """Rooms `client_id` may read now for `user_id` (`GrantObserver.live_grants`)."""
        return await self._grants.live_grants(client_id, user_id)

    async def live_grant(self, client_id: str, room_id: str, user_id: str) -> LiveGrant | None:
        """The live grant for one room, checked now, or None (`GrantObserver.live_grant`)."""
        return await self._grants.live_grant(client_id, room_id, user_id)

    async def read_under_grant(
        self,
        client_id: str,
        room_id: str,
        user_id: str,
        read: Callable[[AsyncConnection, LiveGrant], Awaitable[T]],
    ) -> tuple[LiveGrant, T] | None:
        """`read` under the live grant for one room, checked before and after, or None
        (`GrantObserver.read_under_grant`)."""
        return await self._grants.read_under_grant(client_id, room_id, user_id, read)

    # --- internals ------------------------------------------------------------------------

    async def _access(
        self, conn: AsyncConnection, user_id: str, grant_id: str
    ) -> tuple[GrantRow, list[MemberRow], Observation]:
        """The grant, its members and its status now; 404 unless `user_id` is a member."""
        if len(grant_id) > MAX_ID_LENGTH:
            raise _not_found()
        # A row lock (PostgreSQL) serialises answers to one grant: two last acceptances
        # at once must not each see the other still pending and leave it pending forever.
        await repo.lock_grant(conn, grant_id)
        grant = await repo.get_grant(conn, grant_id)
        members = [] if grant is None else (await repo.list_members(conn, [grant_id]))[grant_id]
        if grant is None or all(m.user_id != user_id for m in members):
            raise _not_found()
        seen = (await self._grants.observe(conn, [grant]))[grant]
        return grant, members, seen

    async def _views(self, conn: AsyncConnection, grants: Sequence[GrantRow]) -> list[Grant]:
        # Re-read: `observe` may just have ended some of them.
        rows = [await repo.get_grant(conn, g.grant_id) for g in grants]
        current = [g for g in rows if g is not None]
        members = await repo.list_members(conn, [g.grant_id for g in current])
        names: dict[str, str] = {}
        rooms: dict[str, str | None] = {}
        for g in current:
            if g.client_id not in names:
                app = await self._apps.find(g.client_id)
                names[g.client_id] = app.name if app is not None else g.client_id
            if g.room_id not in rooms:
                rooms[g.room_id] = await room_name(conn, g.room_id)
        return [
            Grant(
                grant_id=g.grant_id,
                client_id=g.client_id,
                app_name=names[g.client_id],
                room_id=g.room_id,
                room_name=rooms[g.room_id],
                requested_by=g.requested_by,
                status=g.status,
                days=g.days,
                created_ts=g.created_ts,
                live_ts=g.live_ts,
                expires_ts=g.expires_ts,
                ended_ts=g.ended_ts,
                ended_reason=g.ended_reason,
                agreement_version=g.agreement_version,
                members=tuple(
                    MemberAnswer(m.user_id, m.decision, m.include_history, m.decided_ts)
                    for m in members.get(g.grant_id, [])
                ),
            )
            for g in current
        ]
