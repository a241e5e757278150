"""Administrator reads of a person's data: never without a justification and a record.

Every admin endpoint that returns something about people goes through `record_access`
first: a room's messages, and the directory lists too (the account list carries display
names people chose; the room list, names members gave their rooms and who is in them).
An operator who needs them to run the server says why, and the people listed can see it.

An administrator can read a room's messages only by stating why; the read is appended to
the transparency log (naming the admin, the justification, every joined member and the
event range) *before* any event is returned, and the people concerned see it on their
privacy page. If the log cannot take the record, the read fails: there is no way for an
operator to read messages through Candor without leaving a trace (DESIGN invariant 2).
"""

from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.ids import RoomID
from candor.matrix.admin import repository as admin_repo
from candor.matrix.admin.repository import RoomEntry, UserEntry
from candor.matrix.events import repository as events_repo
from candor.matrix.events.model import StoredEvent, people_in
from candor.matrix.requester import Requester
from candor.matrix.rooms import facts as rooms_facts
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.records import AccessAction, AccessRefused, ActorKind, has_visible_text

MAX_PAGE = 100
MAX_LIST_PAGE = 1000
ACTION_READ_MESSAGES = AccessAction.ADMIN_READ_MESSAGES
ACTION_LIST_USERS = AccessAction.ADMIN_LIST_USERS
ACTION_LIST_ROOMS = AccessAction.ADMIN_LIST_ROOMS


class AdminError(CandorError):
    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


@dataclass(frozen=True, slots=True)
class MessagesPage:
    events: list[StoredEvent]
    next_from: int | None
    log_index: int | None
    # When the page was read: events' `unsigned.age` is counted up to it.
    read_ms: int


@dataclass(frozen=True, slots=True)
class UsersPage:
    users: list[UserEntry]
    next_from: str | None


@dataclass(frozen=True, slots=True)
class RoomsPage:
    rooms: list[RoomEntry]
    next_from: str | None


def _justification(justification: str | None, what: str) -> str:
    """The stated reason, trimmed; refused unless it has a visible character.

    Whitespace, zero-width and format characters alone would put a blank reason in the
    log that people read, so they are refused before anything is read.
    """
    if justification is None or not has_visible_text(justification):
        raise AccessRefused(f"State a justification to {what} (visible words, not blanks)")
    return justification.strip()


def check_admin(requester: Requester) -> None:
    if not requester.is_admin:
        raise AdminError(403, "CANDOR_FORBIDDEN", "Only administrators may do this")


class AdminService:
    def __init__(self, db: Database, clock: Clock, access: AccessLog) -> None:
        self._db = db
        self._clock = clock
        self._access = access

    async def list_users(
        self, requester: Requester, justification: str | None, after: str | None, limit: int
    ) -> UsersPage:
        """Every account, by user id, `limit` at a time after `after` (the last id seen).

        Display names are what people chose to call themselves: the page is recorded, naming
        every account on it, before it is returned.
        """
        check_admin(requester)
        basis = _justification(justification, "list accounts")
        limit = max(1, min(limit, MAX_LIST_PAGE))
        async with self._db.read() as conn:
            users = await admin_repo.list_users(conn, after, limit + 1)
        more = len(users) > limit
        users = users[:limit]
        if users:
            await self._record(
                requester,
                basis,
                [u.user_id for u in users],
                {"directory": "users", "first": users[0].user_id, "count": len(users)},
                ACTION_LIST_USERS,
            )
        return UsersPage(users, users[-1].user_id if more else None)

    async def list_rooms(
        self, requester: Requester, justification: str | None, after: str | None, limit: int
    ) -> RoomsPage:
        """Every room, by room id: its name, joined-member count and encryption flag.

        No message is read, but a room's name and who is in it are the members' data: the
        page is recorded, naming everyone with a membership in its rooms (joined, left,
        invited, banned: the name is theirs too), before it is returned. A page is recorded
        even if no one is joined in any of its rooms; only an empty page is not.
        """
        check_admin(requester)
        basis = _justification(justification, "list rooms")
        limit = max(1, min(limit, MAX_LIST_PAGE))
        async with self._db.read() as conn:
            rooms = await admin_repo.list_rooms(conn, after, limit + 1)
            more = len(rooms) > limit
            rooms = rooms[:limit]
            members: set[str] = set()
            for room in rooms:
                members.update(await rooms_facts.room_members(conn, room.room_id, membership=None))
            # A room's creator is named even if they never joined or their row is gone.
            members.update(await admin_repo.list_room_creators(conn, [r.room_id for r in rooms]))
        if rooms:
            await self._record(
                requester,
                basis,
                sorted(members),
                {"directory": "rooms", "first": rooms[0].room_id, "count": len(rooms)},
                ACTION_LIST_ROOMS,
            )
        return RoomsPage(rooms, rooms[-1].room_id if more else None)

    async def _record(
        self,
        requester: Requester,
        basis: str,
        subjects: list[str],
        resource: dict[str, object],
        action: AccessAction,
    ) -> int:
        return await self._access.record_or_refuse(
            actor_kind=ActorKind.ADMIN,
            actor_id=requester.user_id,
            basis=basis,
            subjects=subjects,
            resource=resource,
            action=action,
        )

    async def read_room_messages(
        self,
        requester: Requester,
        room_id: str,
        justification: str | None,
        from_pos: int,
        limit: int,
    ) -> MessagesPage:
        check_admin(requester)
        basis = _justification(justification, "read a room's messages")
        room_id = str(RoomID.parse(room_id))
        limit = max(1, min(limit, MAX_PAGE))
        async with self._db.read() as conn:
            if await events_repo.get_room_head(conn, room_id) is None:
                raise AdminError(404, "CANDOR_NOT_FOUND", "Unknown room")
            members = await rooms_facts.room_members(conn, room_id)
            upto = await events_repo.get_stream_position(conn)
            events = await events_repo.list_room_events(
                conn, room_id, after=from_pos, upto=upto, descending=False, limit=limit + 1
            )
        more = len(events) > limit
        events = events[:limit]
        if not events:
            return MessagesPage(
                [], None, None, self._clock.now_ms()
            )  # nothing is read, so nothing to record
        index = await self._record(
            requester,
            basis,
            # Everyone in the range (senders who have left, the subjects of member events)
            # as well as everyone joined now: all of them are read.
            sorted(set(members) | people_in(events)),
            {
                "room_id": room_id,
                "from": events[0].stream_pos,
                "to": events[-1].stream_pos,
                "count": len(events),
            },
            ACTION_READ_MESSAGES,
        )
        return MessagesPage(
            events, events[-1].stream_pos if more else None, index, self._clock.now_ms()
        )
