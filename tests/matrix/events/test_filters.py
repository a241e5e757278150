"""Event filters: lenient about unknown fields, strict about wrong types, and what they allow."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.canonical_json import JsonDict
from candor.matrix.errors import BadJson
from candor.matrix.events.filters import MAX_LIMIT, EventFilter, SyncFilter
from candor.matrix.events.model import StoredEvent


def event(ev_type: str = "m.room.message", sender: str = "@alice:test.local") -> StoredEvent:
    return StoredEvent(
        stream_pos=1,
        event_id="$e",
        room_id="!r:test.local",
        type=ev_type,
        state_key=None,
        sender=sender,
        origin_server_ts=0,
        content={},
    )


def test_no_filter_allows_everything() -> None:
    flt = EventFilter.parse(None)
    assert flt == EventFilter()
    assert flt.allows(event())
    assert flt.allows_room("!any:test.local")
    assert flt.limit is None


def test_unknown_fields_are_ignored() -> None:
    assert EventFilter.parse({"event_fields": ["content.body"], "x": 1}) == EventFilter()


def test_types_allow_exact_matches_and_wildcards() -> None:
    flt = EventFilter.parse({"types": ["m.room.message", "m.call.*"]})
    assert flt.allows(event("m.room.message"))
    assert flt.allows(event("m.call.invite"))
    assert not flt.allows(event("m.room.member"))
    assert not flt.allows(event("m.room.messages"))


def test_not_types_win_over_types() -> None:
    flt = EventFilter.parse({"types": ["m.*"], "not_types": ["m.room.member"]})
    assert flt.allows(event("m.room.message"))
    assert not flt.allows(event("m.room.member"))
    assert not flt.allows_type("m.room.member")
    assert flt.allows_type("m.room.topic")


def test_wildcard_only_applies_when_pattern_has_a_star() -> None:
    flt = EventFilter.parse({"types": ["m.room.?ember", "m.[r]oom.name"]})
    assert not flt.allows_type("m.room.member")
    assert not flt.allows_type("m.room.name")


def test_empty_types_list_allows_nothing() -> None:
    flt = EventFilter.parse({"types": []})
    assert not flt.allows(event())
    assert not flt.allows_type("m.room.message")


def test_senders_and_not_senders() -> None:
    flt = EventFilter.parse({"senders": ["@a:x", "@b:x"], "not_senders": ["@b:x"]})
    assert flt.allows(event(sender="@a:x"))
    assert not flt.allows(event(sender="@b:x"))
    assert not flt.allows(event(sender="@c:x"))


def test_rooms_and_not_rooms() -> None:
    flt = EventFilter.parse({"rooms": ["!a:x", "!b:x"], "not_rooms": ["!b:x"]})
    assert flt.allows_room("!a:x")
    assert not flt.allows_room("!b:x")
    assert not flt.allows_room("!c:x")


def test_limit_is_capped() -> None:
    assert EventFilter.parse({"limit": 5}).limit == 5
    assert EventFilter.parse({"limit": 0}).limit == 0
    assert EventFilter.parse({"limit": 10**12}).limit == MAX_LIMIT


@pytest.mark.parametrize("limit", [-1, "10", 1.5, True, [1], {}])
def test_bad_limit_is_bad_json(limit: object) -> None:
    with pytest.raises(BadJson, match="limit"):
        EventFilter.parse({"limit": limit})


@pytest.mark.parametrize(
    "key", ["types", "not_types", "senders", "not_senders", "rooms", "not_rooms"]
)
@pytest.mark.parametrize("value", ["m.room.message", [1], ["ok", None], {"a": 1}, 3])
def test_list_fields_must_be_lists_of_strings(key: str, value: object) -> None:
    with pytest.raises(BadJson, match=key) as info:
        EventFilter.parse({key: value})
    assert info.value.errcode == "M_BAD_JSON"


@pytest.mark.parametrize("raw", [[], "x", 1, True])
def test_a_filter_must_be_an_object(raw: object) -> None:
    with pytest.raises(BadJson):
        EventFilter.parse(raw)
    with pytest.raises(BadJson):
        SyncFilter.parse(raw)


def test_sync_filter_parses_each_section() -> None:
    raw: JsonDict = {
        "account_data": {"types": ["m.direct"]},
        "room": {
            "rooms": ["!a:x"],
            "not_rooms": ["!b:x"],
            "timeline": {"limit": 3, "types": ["m.room.message"]},
            "state": {"lazy_load_members": True, "types": ["m.room.name"]},
            "ephemeral": {"not_types": ["m.typing"]},
            "account_data": {"types": ["m.tag"]},
            "include_leave": True,
        },
    }
    flt = SyncFilter.parse(raw)
    assert flt.timeline.limit == 3
    assert flt.timeline.types == ("m.room.message",)
    assert flt.state.types == ("m.room.name",)
    assert flt.lazy_load_members
    assert flt.include_leave
    assert not flt.ephemeral.allows_type("m.typing")
    assert flt.room_account_data.types == ("m.tag",)
    assert flt.account_data.types == ("m.direct",)
    assert flt.rooms.allows_room("!a:x")
    assert not flt.rooms.allows_room("!b:x")


def test_empty_sync_filter_is_the_default() -> None:
    assert SyncFilter.parse(None) == SyncFilter()
    assert SyncFilter.parse({}) == SyncFilter()
    assert SyncFilter.parse({"room": None}) == SyncFilter()


def test_lazy_load_members_needs_literal_true() -> None:
    assert not SyncFilter.parse({"room": {"state": {"lazy_load_members": 1}}}).lazy_load_members


@pytest.mark.parametrize(
    "raw",
    [
        {"room": []},
        {"room": 0},
        {"room": ""},
        {"room": "x"},
        {"room": {"include_leave": "yes"}},
        {"room": {"timeline": []}},
        {"room": {"timeline": {"limit": -5}}},
        {"room": {"state": {"types": "m.room.name"}}},
        {"room": {"rooms": "!a:x"}},
        {"account_data": {"senders": [1]}},
    ],
)
def test_sync_filter_wrong_types_are_bad_json(raw: JsonDict) -> None:
    with pytest.raises(BadJson):
        SyncFilter.parse(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "room",
                    "timeline",
                    "state",
                    "types",
                    "limit",
                    "rooms",
                    "not_types",
                    "include_leave",
                    "account_data",
                    "senders",
                ]
            )
            | st.text(max_size=5),
            c,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(raw=_json)
def test_any_json_parses_or_is_bad_json(raw: object) -> None:
    rejected: BadJson | None = None
    try:
        flt = SyncFilter.parse(raw)
    except BadJson as exc:
        rejected = exc
    else:
        assert flt.timeline.limit is None or 0 <= flt.timeline.limit <= MAX_LIMIT
    assert rejected is None or (rejected.status, rejected.errcode) == (400, "M_BAD_JSON")


@given(
    types=st.lists(st.sampled_from(["m.a", "m.b", "m.*", "x.*", "*"]), max_size=3),
    not_types=st.lists(st.sampled_from(["m.a", "m.b", "m.*", "x.*", "*"]), max_size=3),
    ev_type=st.sampled_from(["m.a", "m.b", "x.y", "z"]),
)
def test_allows_and_allows_type_agree(types: list[str], not_types: list[str], ev_type: str) -> None:
    flt = EventFilter.parse({"types": types, "not_types": not_types})
    assert flt.allows(event(ev_type)) == flt.allows_type(ev_type)
    if ev_type in not_types:
        assert not flt.allows_type(ev_type)
