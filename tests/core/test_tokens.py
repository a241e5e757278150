"""Secret tokens: recognisable prefix, checksum that catches typos, keyed hashing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.tokens import hash_token, is_well_formed, new_token, random_string

PREFIX = "cdr_at_"


def test_new_tokens_carry_the_prefix_and_are_well_formed() -> None:
    token = new_token(PREFIX)
    assert token.startswith(PREFIX)
    assert is_well_formed(token, PREFIX)


def test_new_tokens_are_unique() -> None:
    assert len({new_token(PREFIX) for _ in range(200)}) == 200


def test_token_with_another_prefix_is_not_well_formed() -> None:
    assert not is_well_formed(new_token("cdr_rt_"), PREFIX)


def test_token_without_checksum_separator_is_not_well_formed() -> None:
    assert not is_well_formed(PREFIX + "abcdef", PREFIX)
    assert not is_well_formed(PREFIX, PREFIX)


# One token per test run: Hypothesis replays a failing example, so what it draws from must
# not change between its runs (a fresh random token per example made it flaky).
TOKEN = new_token(PREFIX)


@given(data=st.data())
def test_a_single_changed_character_is_caught_by_the_checksum(data: st.DataObject) -> None:
    token = TOKEN
    i = data.draw(st.integers(min_value=len(PREFIX), max_value=len(token) - 1), "index")
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_").filter(
            lambda c: c != token[i]
        ),
        "replacement",
    )
    typo = token[:i] + replacement + token[i + 1 :]
    assert not is_well_formed(typo, PREFIX)


@given(raw=st.text(max_size=80))
def test_arbitrary_text_is_rejected_without_raising(raw: str) -> None:
    assert is_well_formed(PREFIX + raw, PREFIX) in (True, False)
    assert not is_well_formed(raw.replace(PREFIX, ""), PREFIX) or raw.startswith(PREFIX)


def test_hash_is_keyed_and_deterministic() -> None:
    token = new_token(PREFIX)
    assert hash_token(token, b"k1") == hash_token(token, b"k1")
    assert hash_token(token, b"k1") != hash_token(token, b"k2")
    assert hash_token(token, b"k1") != hash_token(new_token(PREFIX), b"k1")


def test_hash_does_not_contain_the_token() -> None:
    token = new_token(PREFIX)
    digest = hash_token(token, b"key")
    assert token not in digest
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


@pytest.mark.parametrize("nbytes", [1, 12, 32])
def test_random_string_is_url_safe_and_sized(nbytes: int) -> None:
    value = random_string(nbytes)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(value) == (nbytes * 4 + 2) // 3
