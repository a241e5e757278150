"""Whether a room grant holds now, and the live grants the Inbox API may read under.

DESIGN invariant 1 (all-party consent) is decided again at every read, not only when a
grant is written: `observe` re-checks the room's membership, the clock and the app, so a
membership change, the end of the duration, a suspension or a new agreement ends a grant
at once even though nothing wrote to it. What it finds ended is also written down
("eagerly where convenient", by a compare-and-set in `end`). `ConsentService` uses it for
every request and answer; the Inbox API's reads (`live_grants`, `live_grant`,
`read_under_grant`) fail closed: an unknown app, a suspended one, or any doubt → nothing.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.matrix.rooms.facts import membership_events_since, room_facts
from candor.partners.consent import repository as repo
from candor.partners.consent import rules
from candor.partners.consent.repository import GrantRow
from candor.partners.consent.rules import (
    INBOX_SCOPE,
    OPEN,
    Observation,
    Status,
    app_ended,
    membership_changed,
)
from candor.store.db import Database

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LiveGrant:
    """What the Inbox API may serve: events of `room_id` with `stream_pos >= window_from`."""

    grant_id: str
    client_id: str
    room_id: str
    members: tuple[str, ...]  # everyone asked; all of them accepted
    window_from: int
    expires_ts: int


async def _app_may_read(conn: AsyncConnection, client_id: str) -> bool:
    """Fails closed: only an approved app that asked for `inbox.read` reads anything."""
    found = await repo.get_app_access(conn, client_id)
    return found is not None and found[0] == "approved" and INBOX_SCOPE in found[1].split()


class GrantObserver:
    """Reads a grant's state as it is now, and writes down the ends it finds."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def live_grants(self, client_id: str, user_id: str) -> list[LiveGrant]:
        """Rooms `client_id` may read now for `user_id`: live, unexpired, membership unchanged.

        Fails closed: an unknown, unapproved app or one without `inbox.read` gets nothing.
        """
        ended: list[tuple[GrantRow, Observation]] = []
        # A read transaction (no write lock: this is the Inbox API's hot path); what it
        # finds ended is written down afterwards, by the same compare-and-set.
        async with self._db.read() as conn:
            if not await _app_may_read(conn, client_id):
                return []
            rows = await repo.list_grants_of_member(conn, user_id, client_id=client_id)
            live = await self._live(conn, rows, ended)
        await self._write_ended(ended)
        return live

    async def live_grant(self, client_id: str, room_id: str, user_id: str) -> LiveGrant | None:
        """The live grant for one room, checked now (membership, expiry, app), or None."""
        ended: list[tuple[GrantRow, Observation]] = []
        async with self._db.read() as conn:
            found = await self._live_grant_on(conn, client_id, room_id, user_id, ended)
        await self._write_ended(ended)
        return found

    async def read_under_grant(
        self,
        client_id: str,
        room_id: str,
        user_id: str,
        read: Callable[[AsyncConnection, LiveGrant], Awaitable[T]],
    ) -> tuple[LiveGrant, T] | None:
        """`read` under the live grant for one room, or None if there is none.

        One read transaction: the grant is checked, `read` runs on the same connection, and
        the grant is checked again; what was read counts only if the same grant was live
        both times. On SQLite the transaction is one snapshot, so the grant held at the
        instant of the read; on PostgreSQL (each statement sees the latest commits) a
        change that lands between the two checks ends the read too.
        """
        ended: list[tuple[GrantRow, Observation]] = []
        async with self._db.read() as conn:
            found = await self._read_checked(conn, client_id, room_id, user_id, read, ended)
        await self._write_ended(ended)
        return found

    async def _read_checked(
        self,
        conn: AsyncConnection,
        client_id: str,
        room_id: str,
        user_id: str,
        read: Callable[[AsyncConnection, LiveGrant], Awaitable[T]],
        ended: list[tuple[GrantRow, Observation]],
    ) -> tuple[LiveGrant, T] | None:
        grant = await self._live_grant_on(conn, client_id, room_id, user_id, ended)
        if grant is None:
            return None
        value = await read(conn, grant)
        again = await self._live_grant_on(conn, client_id, room_id, user_id, ended)
        if again is None or again.grant_id != grant.grant_id:
            return None
        return grant, value

    async def _live_grant_on(
        self,
        conn: AsyncConnection,
        client_id: str,
        room_id: str,
        user_id: str,
        ended: list[tuple[GrantRow, Observation]],
    ) -> LiveGrant | None:
        """The live grant of (app, room) that asked `user_id`, on the caller's connection."""
        if not await _app_may_read(conn, client_id):
            return None
        rows = await repo.list_live_grants_of_room(conn, client_id, room_id, user_id, Status.LIVE)
        found = await self._live(conn, rows, ended)
        return found[0] if found else None

    async def _live(
        self,
        conn: AsyncConnection,
        rows: Sequence[GrantRow],
        ended: list[tuple[GrantRow, Observation]],
    ) -> list[LiveGrant]:
        """The grants among `rows` live now; those found ended are added to `ended`."""
        live = [g for g in rows if g.status == Status.LIVE]
        seen = await self.observe(conn, live, persist=False)
        members = await repo.list_members(conn, [g.grant_id for g in live])
        ended.extend((g, o) for g, o in seen.items() if o.reason is not None)
        return [
            LiveGrant(
                grant_id=g.grant_id,
                client_id=g.client_id,
                room_id=g.room_id,
                members=tuple(m.user_id for m in members[g.grant_id]),
                window_from=g.window_from,
                expires_ts=int(g.expires_ts or 0),
            )
            for g in live
            # Fails closed: a live row without its window (never written so) is no grant.
            if seen[g].status == Status.LIVE and g.window_from is not None
        ]

    async def _write_ended(self, ended: Sequence[tuple[GrantRow, Observation]]) -> None:
        """Write down the ends a read transaction observed (each a compare-and-set)."""
        if ended:
            async with self._db.write() as conn:
                for g, o in ended:
                    await self.end(conn, g.grant_id, g.status, o.status, str(o.reason))

    async def observe(
        self, conn: AsyncConnection, grants: Sequence[GrantRow], *, persist: bool = True
    ) -> dict[GrantRow, Observation]:
        """Each grant's status now; with `persist`, one found ended is written down.

        Every read of a grant goes through here (DESIGN invariant 1): the room's membership,
        the clock and the app are checked now, whatever the grant's row says.
        """
        open_ = [g for g in grants if g.status in OPEN]
        members = await repo.list_members(conn, [g.grant_id for g in open_])
        facts = await room_facts(conn, sorted({g.room_id for g in open_}))
        apps = await repo.get_app_terms(conn, sorted({g.client_id for g in open_}))
        now = self._clock.now_ms()
        out: dict[GrantRow, Observation] = {}
        for g in grants:
            if g.status not in OPEN:
                out[g] = Observation(Status(g.status), None)
                continue
            f = facts.get(g.room_id)
            app_status, app_version = apps.get(g.client_id, (None, None))
            base = int(g.members_pos or 0)
            changed = f is None or (
                f.membership_pos > base
                and membership_changed(await membership_events_since(conn, g.room_id, base))
            )
            seen = rules.observe(
                g.status,
                members=frozenset(m.user_id for m in members[g.grant_id]),
                joined=frozenset() if f is None else f.joined,
                changed=changed,
                expires_ts=g.expires_ts,
                now_ms=now,
                encrypted=f is not None and f.encrypted,
                app_reason=app_ended(app_status, app_version, g.agreement_version),
            )
            if persist and seen.reason is not None:
                await self.end(conn, g.grant_id, g.status, seen.status, seen.reason)
            out[g] = seen
        return out

    async def end(
        self, conn: AsyncConnection, grant_id: str, expected: str, status: str, reason: str
    ) -> None:
        """End a grant that is still `expected` (a compare-and-set: who ends it first wins)."""
        await repo.set_status(
            conn,
            grant_id,
            expected=expected,
            status=status,
            ended_ts=self._clock.now_ms(),
            ended_reason=reason,
        )
