"""Matrix identifiers: parsed once at the edge; anything malformed is M_INVALID_PARAM."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.ids import (
    MAX_ID_LENGTH,
    USER_LOCALPART_RE,
    InvalidId,
    RoomAlias,
    RoomID,
    UserID,
    parse_event_id,
    valid_server_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "example.org",
        "localhost",
        "matrix.example.org:8448",
        "1.2.3.4",
        "1.2.3.4:80",
        "[::1]",
        "[1234:5678::abcd]:443",
        "a-b.c",
    ],
)
def test_valid_server_names(name: str) -> None:
    assert valid_server_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "exa mple.org",
        "example.org:",
        "example.org:123456",
        "ex_ample.org",
        "[::1",
        "host:port",
        "é.org",
        "a" * 256,
    ],
)
def test_invalid_server_names(name: str) -> None:
    assert not valid_server_name(name)


def test_user_id_parses_into_localpart_and_server() -> None:
    uid = UserID.parse("@alice:example.org:8448")
    assert (uid.localpart, uid.server) == ("alice", "example.org:8448")
    assert str(uid) == "@alice:example.org:8448"


def test_historical_user_localparts_are_accepted() -> None:
    assert UserID.parse("@Alice!:example.org").localpart == "Alice!"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice:example.org",
        "@:example.org",
        "@alice",
        "@alice:",
        "@al ice:example.org",
        "@alice:exa mple.org",
        "!room:example.org",
        "@ali\x00ce:example.org",
        "@é:example.org",
        "@a:" + "b" * 253,
    ],
)
def test_malformed_user_ids_are_invalid_param(raw: str) -> None:
    with pytest.raises(InvalidId) as info:
        UserID.parse(raw)
    assert info.value.errcode == "M_INVALID_PARAM"
    assert info.value.status == 400


def test_room_ids_and_aliases_need_their_own_sigil() -> None:
    assert str(RoomID.parse("!abc:example.org")) == "!abc:example.org"
    assert RoomAlias.parse("#room:example.org").localpart == "room"
    with pytest.raises(InvalidId):
        RoomID.parse("#abc:example.org")
    with pytest.raises(InvalidId):
        RoomAlias.parse("!abc:example.org")


def test_opaque_localparts_reject_spaces_and_control_characters() -> None:
    for raw in ("!a b:example.org", "!a\tb:example.org", "#a\x7f:example.org"):
        with pytest.raises(InvalidId):
            (RoomAlias if raw.startswith("#") else RoomID).parse(raw)


def test_ids_longer_than_255_bytes_are_rejected() -> None:
    local = "a" * (MAX_ID_LENGTH - len("@:example.org") + 1)
    with pytest.raises(InvalidId):
        UserID.parse(f"@{local}:example.org")
    assert UserID.parse(f"@{local[1:]}:example.org").localpart == local[1:]


def test_non_string_input_is_rejected() -> None:
    with pytest.raises(InvalidId):
        UserID.parse(42)  # type: ignore[arg-type]


def test_error_message_is_bounded_for_huge_input() -> None:
    with pytest.raises(InvalidId) as info:
        UserID.parse("x" * 100_000)
    assert len(info.value.message) <= 300


def test_event_ids_are_dollar_and_opaque_text() -> None:
    assert parse_event_id("$abc-DEF_123") == "$abc-DEF_123"
    for raw in ("", "$", "abc", "$a b", "$" + "a" * 255, "$é"):
        with pytest.raises(InvalidId):
            parse_event_id(raw)


def test_server_localpart_grammar_is_lowercase_only() -> None:
    assert USER_LOCALPART_RE.match("alice.bob_=-/+1")
    assert not USER_LOCALPART_RE.match("Alice")
    assert not USER_LOCALPART_RE.match("")


_local = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=40,
)
_server = st.from_regex(r"[a-z0-9]{1,20}(\.[a-z]{2,5})?(:[0-9]{1,5})?", fullmatch=True)


@given(local=_local, server=_server)
def test_user_id_round_trips(local: str, server: str) -> None:
    raw = f"@{local}:{server}"
    assert str(UserID.parse(raw)) == raw


@given(raw=st.text(max_size=60))
def test_arbitrary_text_parses_or_is_invalid_id(raw: str) -> None:
    for cls in (UserID, RoomID, RoomAlias):
        try:
            parsed = cls.parse(raw)
        except InvalidId:
            continue
        assert str(parsed) == raw
    with contextlib.suppress(InvalidId):
        assert parse_event_id(raw) == raw
