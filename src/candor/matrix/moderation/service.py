"""Reports into the administrators' queue, locking and suspending accounts, and whois.

A person reports an event (they must be joined to its room and able to see it), a room
or a user (no membership needed). Every way an event report can fail to find its target
(unknown room, not joined, unknown event, one they cannot see) answers the same 404, so a
report never tells whether something exists behind a wall. Reports are rate limited.

The queue holds who reported what and why, never the reported content: the report is
addressed to the administrators, so reading it is not recorded, but reading the reported
event is an administrator reading its sender's words. That read is recorded in the
transparency log first (the report is its justification), like every admin read
(DESIGN invariant 2).

Locks and suspensions are rows of `account_restrictions` read with the access token
(`accounts/repository.get_token_owner`) and enforced by `matrix/auth.py`
(`moderation/rules.py`). After a change the user's cached tokens are forgotten here and,
through the cluster channel, on every worker, so the change holds on the next request.
"""

from dataclasses import dataclass
from typing import Protocol

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.ids import RoomID, UserID, parse_event_id
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.devices import facts as devices_facts
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.events import facts as events_facts
from candor.matrix.events.model import StoredEvent
from candor.matrix.moderation import repository as repo
from candor.matrix.moderation.repository import ReportRow
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.matrix.rooms.reads import RoomReadsService
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.records import AccessAction, ActorKind, has_visible_text

MAX_REASON = 2000
MAX_LIST_PAGE = 500
# A report costs this much of the reporter's rate limit: a burst of a few, then about one
# a second with the default limits (10 per second, burst 50).
REPORT_COST = 10
STATUSES = ("open", "resolved", "dismissed")
_EVENT_GONE = "The event was not found or you are not joined to the room"


class ModerationError(CandorError):
    """Candor's own admin API errors (`CANDOR_*`), like `admin/service.AdminError`."""

    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


@dataclass(frozen=True, slots=True)
class ReportsPage:
    reports: list[ReportRow]
    next_from: int | None


@dataclass(frozen=True, slots=True)
class ReportedEvent:
    event: StoredEvent
    log_index: int
    read_ms: int


@dataclass(frozen=True, slots=True)
class Whois:
    user_id: str
    # (device id, last seen ms or None); Candor keeps no addresses or user agents.
    devices: list[tuple[str, int | None]]


def _check_reason(reason: str) -> str:
    if len(reason) > MAX_REASON:
        raise InvalidParam(f"The reason is too long ({MAX_REASON} characters at most)")
    return reason


class Actor(Protocol):
    """Who works the queue: a Matrix `Requester` or a web page's `WebUser`."""

    @property
    def user_id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


def _check_admin(requester: Actor) -> None:
    if not requester.is_admin:
        raise ModerationError(403, "CANDOR_FORBIDDEN", "Only administrators may do this")


class ModerationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        reads: RoomReadsService,
        ratelimiter: RateLimiter,
        tokens: TokenCache,
        access: AccessLog,
        *,
        server_name: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._reads = reads
        self._ratelimiter = ratelimiter
        self._tokens = tokens
        self._access = access
        self._server_name = server_name

    # --- reports (any user) ------------------------------------------------------------

    async def report_event(
        self, requester: Requester, room_id: str, event_id: str, reason: str | None
    ) -> int:
        """Queue a report of an event the reporter is joined to and can see; else 404."""
        reason = _check_reason(reason or "")
        room_id = str(RoomID.parse(room_id))
        event_id = parse_event_id(event_id)
        await self._ratelimiter.check(f"report:{requester.user_id}", REPORT_COST)
        async with self._db.read() as conn:
            joined = requester.user_id in await rooms_facts.room_members(conn, room_id)
        if not joined:
            raise NotFound(_EVENT_GONE)
        try:
            event = await self._reads.get_event(requester, room_id, event_id)
        except (NotFound, Forbidden) as exc:
            raise NotFound(_EVENT_GONE) from exc
        return await self._add(requester, "event", room_id, event_id, event.sender, reason)

    async def report_room(self, requester: Requester, room_id: str, reason: str) -> int:
        """Queue a report of a room; the reporter need not be in it. 404 for an unknown room."""
        reason = _check_reason(reason)
        room_id = str(RoomID.parse(room_id))
        await self._ratelimiter.check(f"report:{requester.user_id}", REPORT_COST)
        async with self._db.read() as conn:
            known = room_id in await rooms_facts.room_facts(conn, [room_id])
        if not known:
            raise NotFound("The room was not found")
        return await self._add(requester, "room", room_id, None, None, reason)

    async def report_user(self, requester: Requester, user_id: str, reason: str) -> int:
        """Queue a report of a user of this server; 404 for anyone else."""
        reason = _check_reason(reason)
        user_id = str(UserID.parse(user_id))
        await self._ratelimiter.check(f"report:{requester.user_id}", REPORT_COST)
        async with self._db.read() as conn:
            known = await accounts_facts.user_exists(conn, user_id)
        if not known:
            raise NotFound("The user was not found")
        return await self._add(requester, "user", None, None, user_id, reason)

    async def _add(
        self,
        requester: Requester,
        kind: str,
        room_id: str | None,
        event_id: str | None,
        target: str | None,
        reason: str,
    ) -> int:
        async with self._db.write() as conn:
            return await repo.add_report(
                conn,
                kind=kind,
                reporter_id=requester.user_id,
                room_id=room_id,
                event_id=event_id,
                target_user_id=target,
                reason=reason,
                ts=self._clock.now_ms(),
            )

    # --- the queue (administrators) ----------------------------------------------------

    async def list_reports(
        self, requester: Actor, status: str | None, after: int | None, limit: int
    ) -> ReportsPage:
        """Reports in arrival order, without the reported content (not recorded: see above)."""
        _check_admin(requester)
        if status is not None and status not in STATUSES:
            raise ModerationError(400, "CANDOR_INVALID_PARAM", "status: open, resolved, dismissed")
        limit = max(1, min(limit, MAX_LIST_PAGE))
        async with self._db.read() as conn:
            rows = await repo.list_reports(conn, status, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return ReportsPage(rows, rows[-1].report_id if more and rows else None)

    async def get_report(self, requester: Actor, report_id: int) -> ReportRow:
        _check_admin(requester)
        async with self._db.read() as conn:
            row = await repo.get_report(conn, report_id)
        if row is None:
            raise ModerationError(404, "CANDOR_NOT_FOUND", "Unknown report")
        return row

    async def read_reported_event(self, requester: Actor, report_id: int) -> ReportedEvent:
        """The reported event, recorded in the transparency log before it is returned.

        The record's justification is the report itself (its number, reporter and reason);
        it names the event's sender, who sees it on their privacy page.
        """
        report = await self.get_report(requester, report_id)
        if report.kind != "event" or report.event_id is None:
            raise ModerationError(400, "CANDOR_INVALID_PARAM", "Only an event report has content")
        async with self._db.read() as conn:
            event = await events_facts.event(conn, report.event_id)
        if event is None:
            raise ModerationError(404, "CANDOR_NOT_FOUND", "The reported event is gone")
        reason = report.reason.strip() if has_visible_text(report.reason) else "no reason given"
        basis = f"report #{report.report_id} by {report.reporter_id}: {reason}"[:2000]
        index = await self._access.record_or_refuse(
            actor_kind=ActorKind.ADMIN,
            actor_id=requester.user_id,
            basis=basis,
            subjects=[event.sender],
            resource={
                "report_id": report.report_id,
                "room_id": event.room_id,
                "event_id": event.event_id,
                "from": event.stream_pos,
                "to": event.stream_pos,
                "count": 1,
            },
            action=AccessAction.ADMIN_READ_REPORTED_EVENT,
        )
        return ReportedEvent(event, index, self._clock.now_ms())

    async def close_report(
        self, requester: Actor, report_id: int, status: str, note: str | None
    ) -> ReportRow:
        """Resolve or dismiss an open report (once: a closed report stays closed)."""
        _check_admin(requester)
        async with self._db.write() as conn:
            closed = await repo.close_report(
                conn, report_id, status, requester.user_id, self._clock.now_ms(), note
            )
            row = await repo.get_report(conn, report_id)
        if row is None:
            raise ModerationError(404, "CANDOR_NOT_FOUND", "Unknown report")
        if not closed:
            raise ModerationError(
                409, "CANDOR_REPORT_CLOSED", f"The report is already {row.status}"
            )
        return row

    # --- lock and suspend (server administrators) --------------------------------------

    async def _target(self, requester: Requester, user_id: str, *, changing: bool) -> str:
        """The local, live, non-admin account an administrator may restrict (spec order:
        authorisation before any lookup, so a non-admin learns nothing about accounts)."""
        if not requester.is_admin:
            raise Forbidden("Only server administrators may do this")
        try:
            parsed = UserID.parse(user_id)
        except CandorError as exc:
            raise InvalidParam("Not a valid user id") from exc
        if parsed.server != self._server_name:
            raise InvalidParam("The user does not belong to this server")
        user_id = str(parsed)
        async with self._db.read() as conn:
            account = await repo.account(conn, user_id)
        if account is None or account[1]:
            raise NotFound("User not found")
        if account[0] and (changing or user_id != requester.user_id):
            raise Forbidden("Administrators cannot be locked or suspended")
        return user_id

    async def restrictions(self, requester: Requester, user_id: str) -> tuple[bool, bool]:
        """(locked, suspended) of a local account."""
        user_id = await self._target(requester, user_id, changing=False)
        async with self._db.read() as conn:
            return await repo.get_restriction(conn, user_id)

    async def set_locked(self, requester: Requester, user_id: str, locked: bool) -> bool:
        return (await self._set(requester, user_id, locked=locked))[0]

    async def set_suspended(self, requester: Requester, user_id: str, suspended: bool) -> bool:
        return (await self._set(requester, user_id, suspended=suspended))[1]

    async def _set(
        self,
        requester: Requester,
        user_id: str,
        *,
        locked: bool | None = None,
        suspended: bool | None = None,
    ) -> tuple[bool, bool]:
        user_id = await self._target(requester, user_id, changing=True)
        async with self._db.write() as conn:
            now = await repo.get_restriction(conn, user_id)
            new = (
                now[0] if locked is None else locked,
                now[1] if suspended is None else suspended,
            )
            await repo.set_restriction(
                conn, user_id, new[0], new[1], requester.user_id, self._clock.now_ms()
            )
        # After the commit: every worker drops the user's cached tokens and reads the new
        # state on their next request (`sync/cluster.py` carries it).
        self._tokens.forget_user(user_id)
        return new

    # --- whois ---------------------------------------------------------------------------

    async def whois(self, requester: Requester, user_id: str, justification: str | None) -> Whois:
        """A user's devices and when each was last seen: the user themself, or an admin.

        An administrator's whois of someone else reveals their sessions, so it is recorded
        in the transparency log (naming that person) before it is answered.
        """
        try:
            user_id = str(UserID.parse(user_id))
        except CandorError as exc:
            raise InvalidParam("Not a valid user id") from exc
        own = user_id == requester.user_id
        if not own and not requester.is_admin:
            raise Forbidden("You may only look up yourself")
        async with self._db.read() as conn:
            known = await accounts_facts.user_exists(conn, user_id)
            devices = await devices_facts.devices_last_seen(conn, user_id) if known else []
        if not known:
            raise NotFound("User not found")
        if not own:
            basis = (
                justification.strip()
                if justification is not None and has_visible_text(justification)
                else "whois lookup (no reason given)"
            )
            await self._access.record_or_refuse(
                actor_kind=ActorKind.ADMIN,
                actor_id=requester.user_id,
                basis=basis,
                subjects=[user_id],
                resource={"whois": user_id, "devices": len(devices)},
                action=AccessAction.ADMIN_WHOIS,
            )
        return Whois(user_id, devices)
