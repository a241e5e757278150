"""The Inbox API's reads: only rooms every member agreed to share, each read logged first.

An app sees a room only through a live grant (`partners/consent`) that includes the
token's person; holding every scope gives nothing else. Within it, only events whose
sender accepted the grant are served: a person who left before it was asked (so was never
asked) has their events withheld, whatever the history setting. Before any event (or the
list of rooms, which says who talks to whom) leaves the server, one transparency-log
record names the app, the grant, every member, and everyone in the range read (each
sender, withheld or not, and each member event's subject); if the log cannot take it, the
read fails (DESIGN invariants 1 and 2).

A grant ends at the first membership change. The grant is checked before the events are
read and again after, in the same read transaction (`ConsentService.read_under_grant`),
and the events leave only if it was live both times: a change that lands between the two
(a member leaving, someone joining) ends the read too, so nobody is ever read under a
consent that no longer holds. The bearer token, its consent and its app are one read
(`OAuthService.authenticate_bearer`); the grant, its room's facts and the events another.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.matrix.events.model import StoredEvent, people_in
from candor.matrix.events.service import RoomWindow, read_room_window
from candor.partners.consent.observer import LiveGrant
from candor.partners.consent.rules import served
from candor.partners.consent.service import ConsentService
from candor.partners.errors import not_found
from candor.partners.oauth.bearer import BearerService, PartnerToken
from candor.transparency.access import AccessLog
from candor.transparency.records import AccessAction, ActorKind

MAX_PAGE = 100
ACTION_LIST_ROOMS = AccessAction.PARTNER_LIST_ROOMS
ACTION_READ_MESSAGES = AccessAction.PARTNER_READ_MESSAGES


@dataclass(frozen=True, slots=True)
class RoomsPage:
    grants: list[LiveGrant]
    log_index: int | None


@dataclass(frozen=True, slots=True)
class MessagesPage:
    grant: LiveGrant
    events: list[StoredEvent]
    next_from: int | None
    log_index: int | None
    now_ms: int  # when it was served: each event's `unsigned.age` is counted to it


class InboxService:
    def __init__(
        self,
        *,
        consent: ConsentService,
        bearer: BearerService,
        access: AccessLog,
        clock: Clock,
    ) -> None:
        self._consent = consent
        self._bearer = bearer
        self._access = access
        self._clock = clock

    async def rooms(self, token: PartnerToken) -> RoomsPage:
        """The rooms this app may read for this person (live grants only)."""
        grants = await self._consent.live_grants(token.client_id, token.user_id)
        if not grants:
            return RoomsPage([], None)  # nothing about anyone leaves: nothing to record
        index = await self._record(
            token,
            basis="grants " + " ".join(g.grant_id for g in grants),
            subjects={m for g in grants for m in g.members},
            resource={"rooms": [g.room_id for g in grants], "count": len(grants)},
            action=ACTION_LIST_ROOMS,
        )
        await self._bearer.note_use(token.client_id, token.user_id)
        return RoomsPage(grants, index)

    async def messages(
        self, token: PartnerToken, room_id: str, from_pos: int, limit: int
    ) -> MessagesPage:
        """Events inside the grant's window after `from_pos`, oldest first, by its members.

        Events of anyone who did not accept the grant are left out; a page may then hold
        fewer than `limit` events (even none) while `next_from` says more follow. A missing room, a room without a live grant for this app and person, and a room the
        person is not in all answer the same 404, so the API never tells them apart.
        """
        limit = max(1, min(limit, MAX_PAGE))

        async def read_window(conn: AsyncConnection, grant: LiveGrant) -> RoomWindow:
            # The window holds positions >= window_from; `from` is the last position read.
            after = max(from_pos, grant.window_from - 1)
            return await read_room_window(conn, room_id, after=after, limit=limit)

        found = await self._consent.read_under_grant(
            token.client_id, room_id, token.user_id, read_window
        )
        if found is None:
            raise not_found("No live grant lets this app read this room")
        grant, window = found
        read = window.events
        next_from = read[-1].stream_pos if read and window.more else None
        keep = served([e.sender for e in read], frozenset(grant.members))
        events = [e for e, ok in zip(read, keep, strict=True) if ok]
        if not events:
            # Nothing leaves, so nothing about anyone is recorded.
            return MessagesPage(grant, [], next_from, None, self._clock.now_ms())
        index = await self._record(
            token,
            basis=f"grant {grant.grant_id}",
            subjects=set(grant.members) | set(window.members) | people_in(read),
            resource={
                "room_id": room_id,
                "grant_id": grant.grant_id,
                "from": read[0].stream_pos,
                "to": read[-1].stream_pos,
                "count": len(events),
                "withheld": len(read) - len(events),
            },
            action=ACTION_READ_MESSAGES,
        )
        await self._bearer.note_use(token.client_id, token.user_id)
        return MessagesPage(grant, events, next_from, index, self._clock.now_ms())

    async def _record(
        self,
        token: PartnerToken,
        *,
        basis: str,
        subjects: set[str],
        resource: dict[str, object],
        action: AccessAction,
    ) -> int:
        return await self._access.record_or_refuse(
            actor_kind=ActorKind.PARTNER_APP,
            actor_id=token.client_id,
            basis=basis,
            subjects=sorted(subjects),
            resource=resource,
            action=action,
        )
