"""Event filters (https://spec.matrix.org/v1.11/client-server-api/#filtering), pure.

Parsed leniently as the spec's clients expect: unknown fields are ignored, but a field of
the wrong type is M_BAD_JSON rather than silently dropped.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase

from candor.core.canonical_json import JsonDict
from candor.matrix.errors import BadJson
from candor.matrix.events.model import StoredEvent

MAX_LIMIT = 1000


def _str_list(raw: JsonDict, key: str) -> tuple[str, ...] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadJson(f"filter field {key} must be a list of strings")
    return tuple(value)


def _match(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, p) if "*" in p else value == p for p in patterns)


@dataclass(frozen=True, slots=True)
class EventFilter:
    limit: int | None = None
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: object) -> "EventFilter":
        if raw is None:
            return ANY_EVENT
        if not isinstance(raw, dict):
            raise BadJson("a filter must be an object")
        limit = raw.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise BadJson("filter limit must be a non-negative integer")
        return cls(
            limit=min(limit, MAX_LIMIT) if isinstance(limit, int) else None,
            types=_str_list(raw, "types"),
            not_types=_str_list(raw, "not_types") or (),
            senders=_str_list(raw, "senders"),
            not_senders=_str_list(raw, "not_senders") or (),
            rooms=_str_list(raw, "rooms"),
            not_rooms=_str_list(raw, "not_rooms") or (),
        )

    def allows(self, ev: StoredEvent) -> bool:
        if self.types is not None and not _match(self.types, ev.type):
            return False
        if self.not_types and _match(self.not_types, ev.type):
            return False
        if self.senders is not None and ev.sender not in self.senders:
            return False
        return ev.sender not in self.not_senders

    def allows_type(self, event_type: str) -> bool:
        if self.types is not None and not _match(self.types, event_type):
            return False
        return not (self.not_types and _match(self.not_types, event_type))

    def allows_room(self, room_id: str) -> bool:
        if self.rooms is not None and room_id not in self.rooms:
            return False
        return room_id not in self.not_rooms


# Filters are frozen, so one instance of each can serve every request that uses it: an idle
# /sync long-poll holds its filter for its whole wait (issue 17: server memory per idle
# long-poll), and most clients send the same filter on every poll.
ANY_EVENT = EventFilter()
_INTERN_MAX = 1024


@dataclass(frozen=True, slots=True)
class SyncFilter:
    timeline: EventFilter = ANY_EVENT
    state: EventFilter = ANY_EVENT
    ephemeral: EventFilter = ANY_EVENT
    room_account_data: EventFilter = ANY_EVENT
    account_data: EventFilter = ANY_EVENT
    rooms: EventFilter = ANY_EVENT
    presence: EventFilter = ANY_EVENT
    include_leave: bool = False
    lazy_load_members: bool = False
    # The timeline filter's `unread_thread_notifications`: counts split by thread.
    unread_thread_notifications: bool = False

    @classmethod
    def parse(cls, raw: object) -> "SyncFilter":
        if raw is None:
            return _NO_FILTER
        if not isinstance(raw, dict):
            raise BadJson("a filter must be an object")
        room = raw.get("room")
        room = {} if room is None else room
        if not isinstance(room, dict):
            raise BadJson("filter.room must be an object")
        include_leave = room.get("include_leave", False)
        if not isinstance(include_leave, bool):
            raise BadJson("include_leave must be a boolean")
        state_raw = room.get("state")
        lazy = isinstance(state_raw, dict) and state_raw.get("lazy_load_members") is True
        timeline_raw = room.get("timeline")
        by_thread = (
            timeline_raw.get("unread_thread_notifications", False)
            if isinstance(timeline_raw, dict)
            else False
        )
        if not isinstance(by_thread, bool):
            raise BadJson("unread_thread_notifications must be a boolean")
        parsed = cls(
            timeline=EventFilter.parse(timeline_raw),
            state=EventFilter.parse(state_raw),
            ephemeral=EventFilter.parse(room.get("ephemeral")),
            room_account_data=EventFilter.parse(room.get("account_data")),
            account_data=EventFilter.parse(raw.get("account_data")),
            rooms=EventFilter.parse({k: room[k] for k in ("rooms", "not_rooms") if k in room}),
            presence=EventFilter.parse(raw.get("presence")),
            include_leave=include_leave,
            lazy_load_members=lazy,
            unread_thread_notifications=by_thread,
        )
        # The first instance of an equal filter stands for all later ones (up to a bound).
        known = _INTERNED.get(parsed)
        if known is not None:
            return known
        if len(_INTERNED) < _INTERN_MAX:
            _INTERNED[parsed] = parsed
        return parsed


_NO_FILTER = SyncFilter()
_INTERNED: dict[SyncFilter, SyncFilter] = {_NO_FILTER: _NO_FILTER}


def check_definition(raw: object) -> None:
    """Refuses a filter the spec's `Filter` schema forbids, before it is stored.

    Why at upload: a stored filter is used by id on every later `/sync`, so a malformed one
    would fail every poll instead of the one request that could be corrected.
    """
    SyncFilter.parse(raw)
    if not isinstance(raw, dict):  # for the type checker: parse refused anything else
        raise BadJson("a filter must be an object")
    fields = raw.get("event_fields")
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
    ):
        raise BadJson("filter field event_fields must be a list of strings")
    if raw.get("event_format", "client") not in ("client", "federation"):
        raise BadJson("filter field event_format must be client or federation")
    EventFilter.parse(raw.get("presence"))
