"""Stream tokens: strict parsing (M_INVALID_PARAM, never a crash) and round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.matrix.errors import InvalidParam
from candor.matrix.sync.tokens import SyncToken, page_token, parse_page_token

_positions = st.integers(min_value=0, max_value=10**18 - 1)


@given(position=_positions, typing=_positions)
def test_sync_token_round_trips(position: int, typing: int) -> None:
    token = SyncToken(position, typing)
    assert SyncToken.parse(str(token)) == token


def test_sync_token_format_is_s_position_underscore_typing() -> None:
    assert str(SyncToken(12, 3)) == "s12_3"
    assert SyncToken.parse("s0_0") == SyncToken(0, 0)


@given(position=_positions, typing=_positions, data=st.data())
def test_sync_token_with_to_device_part_round_trips(
    position: int, typing: int, data: st.DataObject
) -> None:
    to_device = data.draw(st.integers(min_value=0, max_value=position))
    token = SyncToken(position, typing, to_device)
    assert str(token) == f"s{position}_{typing}_{to_device}"
    assert SyncToken.parse(str(token)) == token
    assert parse_page_token(str(token)) == position


@given(position=_positions)
def test_page_token_round_trips(position: int) -> None:
    assert parse_page_token(page_token(position)) == position


def test_page_token_clamps_negative_positions_to_zero() -> None:
    assert page_token(-5) == "t0"


@given(position=_positions, typing=_positions)
def test_a_sync_token_is_also_a_pagination_token(position: int, typing: int) -> None:
    assert parse_page_token(str(SyncToken(position, typing))) == position


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "s",
        "s1",
        "s_1",
        "s1_",
        "t1",
        "s-1_0",
        "s1_-1",
        "S1_0",
        "s1_0 ",
        " s1_0",
        "s1_0_2",
        "s1_0_",
        "s1_0_0_0",
        "s1.5_0",
        "s0x1_0",
        "s" + "9" * 19 + "_0",
        "s1_0\n",
        "s\u0661_\u0660",
    ],
)
def test_malformed_sync_tokens_are_invalid_param(raw: str) -> None:
    with pytest.raises(InvalidParam) as info:
        SyncToken.parse(raw)
    assert info.value.errcode == "M_INVALID_PARAM"
    assert info.value.status == 400


@pytest.mark.parametrize(
    "raw", ["", "t", "x1", "t-1", "t1_", "t1 ", "T1", "t" + "1" * 19, "t1\n", "t\u0661", "s1_2_3_4"]
)
def test_malformed_page_tokens_are_invalid_param(raw: str) -> None:
    with pytest.raises(InvalidParam) as info:
        parse_page_token(raw)
    assert info.value.errcode == "M_INVALID_PARAM"


@given(raw=st.text(max_size=40))
def test_arbitrary_text_either_parses_to_a_canonical_token_or_is_invalid_param(raw: str) -> None:
    try:
        token = SyncToken.parse(raw)
    except InvalidParam:
        return
    assert token.position >= 0
    assert token.typing >= 0
    assert SyncToken.parse(str(token)) == token


@given(raw=st.text(max_size=40))
def test_arbitrary_text_never_crashes_the_page_token_parser(raw: str) -> None:
    try:
        position = parse_page_token(raw)
    except InvalidParam:
        return
    assert 0 <= position < 10**18
