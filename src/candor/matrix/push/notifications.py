"""GET /notifications: the events a user was notified about, newest first, paged.

https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3notifications

Read from what the send path recorded (`repository.list_notifications`): the events of
their rooms' baselines while they were members, minus their exceptions, plus their own
notifying exceptions (mentions, invites). `read` is whether their latest read receipt in
that room (public or private) is at or after the event: the unthreaded one, or the one for
the event's thread (`main` for the main timeline), as the unread counts read them. The
paging token is the stream position of the last notification returned.
"""

from candor.core.canonical_json import JsonDict, decode
from candor.core.clock import Clock
from candor.matrix.errors import InvalidParam
from candor.matrix.events import facts as events_facts
from candor.matrix.events.model import serialize_event
from candor.matrix.push import repository as repo
from candor.matrix.requester import Requester
from candor.store.db import Database

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_END = 2**62


class NotificationsService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def list_notifications(
        self, requester: Requester, from_token: str | None, limit: int | None, only: str | None
    ) -> JsonDict:
        before = _END
        if from_token is not None:
            if not from_token.isdigit() or len(from_token) > 18:
                raise InvalidParam("Unknown 'from' token")
            before = int(from_token)
        if limit is not None and limit < 1:
            raise InvalidParam("limit must be positive")
        count = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        user_id = requester.user_id
        async with self._db.read() as conn:
            rows = await repo.list_notifications(
                conn, user_id, before=before, limit=count, only_highlight=only == "highlight"
            )
            events = {
                e.stream_pos: e
                for e in await events_facts.events_at(conn, [r.stream_pos for r in rows])
            }
            read = await repo.read_positions(conn, user_id, sorted({r.room_id for r in rows}))
        now = self._clock.now_ms()
        notifications: list[JsonDict] = []
        for row in rows:
            event = events.get(row.stream_pos)
            if event is None:  # pragma: no cover - events are never deleted
                continue
            notifications.append(
                {
                    "actions": decode(row.actions),
                    "event": serialize_event(event, now_ms=now, with_room_id=False),
                    "read": _is_read(read, row),
                    "room_id": row.room_id,
                    "ts": event.origin_server_ts,
                }
            )
        body: JsonDict = {"notifications": notifications}
        if len(rows) == count:
            body["next_token"] = str(rows[-1].stream_pos)
        return body


def _is_read(read: dict[tuple[str, str], int], row: repo.NotificationRow) -> bool:
    thread = row.thread_id or "main"
    return max(read.get((row.room_id, ""), 0), read.get((row.room_id, thread), 0)) >= row.stream_pos
