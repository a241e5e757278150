"""`decode_client` and `check_event_content`: the canonical-JSON rules for client bodies."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.canonical_json import (
    MAX_SAFE_INTEGER,
    BadClientJson,
    check_event_content,
    decode_client,
)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 9007199254740992}',
        b'{"a": -9007199254740992}',
        b'{"a": 1' + b"0" * 5000 + b"}",
        b'{"a": 1e400}',
        b'{"a": -1e400}',
        b'{"a": 1, "a": 2}',
        b'{"x": {"b": 1, "c": [{"d": 1, "d": 1}]}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_bodies_breaking_the_rules_are_bad_json(raw: bytes) -> None:
    with pytest.raises(BadClientJson) as caught:
        decode_client(raw)

    assert caught.value.errcode == "M_BAD_JSON"
    assert caught.value.status == 400


@pytest.mark.parametrize("raw", [b"{", b"nope", b'{"a": 1,}', b"\xff\xfe\xfa"])
def test_text_that_is_not_json_is_a_decode_error(raw: bytes) -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_client(raw)


def test_the_edges_of_the_integer_range_pass() -> None:
    raw = b'{"max": 9007199254740991, "min": -9007199254740991, "f": 1.5, "e": 1e300}'

    assert decode_client(raw) == {
        "max": MAX_SAFE_INTEGER,
        "min": -MAX_SAFE_INTEGER,
        "f": 1.5,
        "e": 1e300,
    }


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    )
)
def test_any_valid_json_round_trips(value: object) -> None:
    assert decode_client(json.dumps(value).encode()) == value


@pytest.mark.parametrize(
    "content",
    [
        {"a": 1.0},
        {"a": [1, {"b": 0.5}]},
        {"a": 2**53},
        {"a": -(2**53)},
    ],
)
def test_event_content_refuses_floats_and_big_integers(content: object) -> None:
    with pytest.raises(BadClientJson):
        check_event_content(content)


def test_event_content_allows_canonical_values() -> None:
    check_event_content(
        {"n": MAX_SAFE_INTEGER, "t": True, "z": None, "l": [-MAX_SAFE_INTEGER, "x", {}]}
    )
    check_event_content(None)
