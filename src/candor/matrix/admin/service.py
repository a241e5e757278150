"""Administrator reads of a person's data: never without a justification and a record.

An administrator can read a room's messages only by stating why; the read is appended to
the transparency log (naming the admin, the justification, every joined member and the
event range) *before* any event is returned, and the people concerned see it on their
privacy page. If the log cannot take the record, the read fails: there is no way for an
operator to read messages through Candor without leaving a trace (DESIGN invariant 2).
"""

import logging
from dataclasses import dataclass

from candor.core.errors import CandorError
from candor.core.ids import RoomID
from candor.matrix.auth import Requester
from candor.matrix.context import Homeserver
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent
from candor.matrix.rooms import repository as rooms_repo
from candor.transparency.records import AccessRefused, ActorKind

logger = logging.getLogger(__name__)

MAX_PAGE = 100
ACTION_READ_MESSAGES = "admin.read_room_messages"


class AdminError(CandorError):
    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


@dataclass(frozen=True, slots=True)
class MessagesPage:
    events: list[StoredEvent]
    next_from: int | None
    log_index: int | None


class AdminService:
    def __init__(self, hs: Homeserver) -> None:
        self._hs = hs

    async def read_room_messages(
        self,
        requester: Requester,
        room_id: str,
        justification: str | None,
        from_pos: int,
        limit: int,
    ) -> MessagesPage:
        if not requester.is_admin:
            raise AdminError(403, "CANDOR_FORBIDDEN", "Only administrators may do this")
        if justification is None or not justification.strip():
            raise AccessRefused("State a justification to read a room's messages")
        room_id = str(RoomID.parse(room_id))
        limit = max(1, min(limit, MAX_PAGE))
        async with self._hs.db.read() as conn:
            if await events_repo.get_room_head(conn, room_id) is None:
                raise AdminError(404, "CANDOR_NOT_FOUND", "Unknown room")
            members = await rooms_repo.list_room_members(conn, room_id)
            upto = await events_repo.get_stream_position(conn)
            events = await events_repo.list_room_events(
                conn, room_id, after=from_pos, upto=upto, descending=False, limit=limit + 1
            )
        more = len(events) > limit
        events = events[:limit]
        if not events:
            return MessagesPage([], None, None)  # nothing is read, so nothing to record
        try:
            index = await self._hs.access.record_access(
                actor_kind=ActorKind.ADMIN,
                actor_id=requester.user_id,
                basis=justification.strip(),
                subjects=members or sorted({e.sender for e in events}),
                resource={
                    "room_id": room_id,
                    "from": events[0].stream_pos,
                    "to": events[-1].stream_pos,
                    "count": len(events),
                },
                action=ACTION_READ_MESSAGES,
            )
        except AccessRefused:
            raise
        except Exception as exc:
            logger.exception("access record for an admin read failed; refusing the read")
            raise AdminError(
                503, "CANDOR_LOG_UNAVAILABLE", "The access could not be recorded, so it is refused"
            ) from exc
        return MessagesPage(events, events[-1].stream_pos if more else None, index)
