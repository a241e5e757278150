"""The request body of POST /search, checked into typed criteria. Pure.

https://spec.matrix.org/v1.11/client-server-api/#post_matrixclientv3search. Parsed by hand
rather than by a pydantic model because the spec's errors differ by field: a field of the
wrong type is M_BAD_JSON, a well-typed value the spec does not allow (a key, an ordering,
a category) is M_INVALID_PARAM, and a missing `search_term` is M_MISSING_PARAM.
"""

from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.matrix.errors import BadJson, InvalidParam, MissingParam
from candor.matrix.events.filters import EventFilter
from candor.matrix.search.terms import SearchQuery, parse_search_term

KEYS = ("content.body", "content.name", "content.topic")
# The event type each key is read from (one key per type, so one index row per event).
KEY_OF_TYPE = {"m.room.message": "content.body", "m.room.name": "content.name"}
KEY_OF_TYPE["m.room.topic"] = "content.topic"
ORDERS = ("rank", "recent")
GROUP_KEYS = ("room_id", "sender")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_CONTEXT = 5
MAX_CONTEXT = 100


@dataclass(frozen=True, slots=True)
class ContextSpec:
    before: int
    after: int
    include_profile: bool


@dataclass(frozen=True, slots=True)
class Criteria:
    query: SearchQuery
    keys: tuple[str, ...]
    flt: EventFilter
    order: str
    limit: int
    context: ContextSpec | None
    include_state: bool
    group_by: tuple[str, ...]

    @property
    def types(self) -> tuple[str, ...]:
        """The indexed event types the keys and the filter allow."""
        return tuple(
            t for t, key in KEY_OF_TYPE.items() if key in self.keys and self.flt.allows_type(t)
        )


def _object(raw: object, name: str) -> JsonDict:
    if not isinstance(raw, dict):
        raise BadJson(f"{name} must be an object")
    return raw


def _optional_object(raw: JsonDict, key: str) -> JsonDict | None:
    value = raw.get(key)
    return None if value is None else _object(value, key)


def _bool(raw: JsonDict, key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise BadJson(f"{key} must be a boolean")
    return value


def _count(raw: JsonDict, key: str) -> int:
    value = raw.get(key, DEFAULT_CONTEXT)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadJson(f"{key} must be an integer")
    if value < 0:
        raise InvalidParam(f"{key} must not be negative")
    return min(value, MAX_CONTEXT)


def _keys(raw: JsonDict) -> tuple[str, ...]:
    value = raw.get("keys")
    if value is None:
        return KEYS
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise BadJson("keys must be a list of strings")
    unknown = [k for k in value if k not in KEYS]
    if unknown:
        raise InvalidParam(f"keys may only be {', '.join(KEYS)}")
    return tuple(dict.fromkeys(value))


def _group_by(raw: JsonDict) -> tuple[str, ...]:
    groupings = _optional_object(raw, "groupings")
    if groupings is None:
        return ()
    groups = groupings.get("group_by", [])
    if not isinstance(groups, list):
        raise BadJson("groupings.group_by must be a list")
    out: list[str] = []
    for group in groups:
        key = _object(group, "a group").get("key")
        if not isinstance(key, str):
            raise BadJson("a group's key must be a string")
        if key not in GROUP_KEYS:
            raise InvalidParam("groups may only be by room_id or sender")
        out.append(key)
    return tuple(dict.fromkeys(out))


def parse_categories(raw: object) -> Criteria | None:
    """The room_events criteria, or None when no category was asked for."""
    categories = _object(raw, "search_categories")
    unknown = [c for c in categories if c != "room_events"]
    if unknown:
        raise InvalidParam(f"Unknown search category: {unknown[0]}")
    if categories.get("room_events") is None:
        return None
    crit = _object(categories["room_events"], "room_events")
    term = crit.get("search_term")
    if term is None:
        raise MissingParam("search_term is required")
    if not isinstance(term, str):
        raise BadJson("search_term must be a string")
    order = crit.get("order_by", "rank")
    if not isinstance(order, str):
        raise BadJson("order_by must be a string")
    if order not in ORDERS:
        raise InvalidParam("order_by must be rank or recent")
    flt = EventFilter.parse(crit.get("filter"))
    context = _optional_object(crit, "event_context")
    return Criteria(
        query=parse_search_term(term),
        keys=_keys(crit),
        flt=flt,
        order=order,
        limit=min(flt.limit if flt.limit is not None else DEFAULT_LIMIT, MAX_LIMIT),
        context=None
        if context is None
        else ContextSpec(
            before=_count(context, "before_limit"),
            after=_count(context, "after_limit"),
            include_profile=_bool(context, "include_profile"),
        ),
        include_state=_bool(crit, "include_state"),
        group_by=_group_by(crit),
    )


def parse_next_batch(raw: str | None, order: str) -> int | None:
    """The opaque `next_batch`: an offset into the ranked results (`r12`), or the stream
    position the recent results continue below (`p3456`). Ranks move as events come, so
    rank pages by offset; recency pages by position, which new events cannot shift."""
    if raw is None:
        return None
    prefix = "r" if order == "rank" else "p"
    digits = raw[1:]
    if not raw.startswith(prefix) or not digits.isascii() or not digits.isdigit():
        raise InvalidParam("Invalid next_batch token")
    if len(digits) > 18:
        raise InvalidParam("Invalid next_batch token")
    return int(digits)


def next_batch_token(order: str, value: int) -> str:
    return f"{'r' if order == 'rank' else 'p'}{value}"
