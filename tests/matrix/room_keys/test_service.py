"""The pure parts of the key backup service: the replacement rule and version-id parsing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.matrix.errors import NotFound
from candor.matrix.room_keys.repository import KeyRecord
from candor.matrix.room_keys.service import parse_version, should_replace


def record(first_message_index: int, forwarded_count: int, is_verified: bool) -> KeyRecord:
    return KeyRecord("!r:s", "sid", first_message_index, forwarded_count, is_verified, "{}")


keys = st.builds(
    record,
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
)


@given(keys, keys)
def test_replacement_follows_the_spec_ranking(existing: KeyRecord, new: KeyRecord) -> None:
    if existing.is_verified != new.is_verified:
        expected = new.is_verified
    elif new.first_message_index != existing.first_message_index:
        expected = new.first_message_index < existing.first_message_index
    else:
        expected = new.forwarded_count < existing.forwarded_count
    assert should_replace(existing, new) is expected


@given(keys, keys)
def test_of_two_different_copies_exactly_one_direction_replaces(a: KeyRecord, b: KeyRecord) -> None:
    same_rank = (a.is_verified, a.first_message_index, a.forwarded_count) == (
        b.is_verified,
        b.first_message_index,
        b.forwarded_count,
    )
    if same_rank:
        assert not should_replace(a, b)
        assert not should_replace(b, a)
    else:
        assert should_replace(a, b) != should_replace(b, a)


def test_verified_copy_is_kept_over_an_unverified_one_with_a_lower_index() -> None:
    assert not should_replace(record(9, 9, True), record(0, 0, False))
    assert should_replace(record(0, 0, False), record(9, 9, True))


@pytest.mark.parametrize("raw", ["1", "9", "10", "2147483647"])
def test_decimal_versions_parse(raw: str) -> None:
    assert parse_version(raw) == int(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "01",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "abc",
        "\u0661",
        "\u00b2",
        "2147483648",
        "9" * 30,
    ],
)
def test_other_version_spellings_name_no_version(raw: str) -> None:
    with pytest.raises(NotFound):
        parse_version(raw)
