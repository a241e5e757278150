"""The pure parts of search: the term parser, visible ranges, criteria and tokens."""

import itertools

import pytest

from candor.matrix.errors import MatrixError
from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.search.criteria import next_batch_token, parse_categories, parse_next_batch
from candor.matrix.search.ranges import visible_ranges
from candor.matrix.search.terms import parse_search_term


def test_terms_compile_to_quoted_fts5() -> None:
    q = parse_search_term('red "green tea" -blue OR e-mail')
    assert q.fts5() == '("red" AND "green tea" NOT "blue") OR ("e mail")'
    assert q.words == ["red", "green", "tea", "e", "mail"]


def test_terms_without_a_positive_part_search_nothing() -> None:
    assert parse_search_term("-only -negatives").alternatives == ()
    assert parse_search_term('"" ( ) *').alternatives == ()
    assert parse_search_term("or OR").alternatives == ()


def test_terms_are_bounded() -> None:
    with pytest.raises(MatrixError):
        parse_search_term("x" * 1001)
    with pytest.raises(MatrixError):
        parse_search_term(" ".join(f"w{i}" for i in range(33)))


def _brute(vis: VisibilityContext, upto: int) -> list[int]:
    return [p for p in range(1, upto + 1) if vis.is_visible(p)]


def _expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [p for lo, hi in ranges for p in range(lo, hi + 1)]


@pytest.mark.parametrize(
    ("memberships", "visibilities"),
    [
        ([(5, "join")], []),
        ([(5, "join")], [(3, "joined")]),
        ([(5, "join"), (9, "leave")], [(3, "joined")]),
        ([(5, "join"), (9, "leave"), (12, "join")], [(3, "shared"), (10, "joined")]),
        ([(4, "invite"), (6, "join"), (8, "ban")], [(2, "invited")]),
        ([(4, "join"), (7, "leave")], [(2, "world_readable")]),
        ([], [(2, "shared")]),
    ],
)
def test_visible_ranges_equal_is_visible_at_every_position(
    memberships: list[tuple[int, str]], visibilities: list[tuple[int, str]]
) -> None:
    vis = VisibilityContext(memberships=memberships, visibilities=visibilities)
    ranges = visible_ranges(vis, 20)
    assert _expand(ranges) == _brute(vis, 20)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))


def test_criteria_defaults() -> None:
    crit = parse_categories({"room_events": {"search_term": "x"}})
    assert crit is not None
    assert crit.order == "rank"
    assert crit.limit == 10
    assert crit.keys == ("content.body", "content.name", "content.topic")
    assert crit.types == ("m.room.message", "m.room.name", "m.room.topic")
    assert crit.context is None
    crit = parse_categories(
        {"room_events": {"search_term": "x", "filter": {"limit": 1000}, "event_context": {}}}
    )
    assert crit is not None
    assert crit.limit == 100
    assert crit.context is not None
    assert (crit.context.before, crit.context.after) == (5, 5)


def test_next_batch_round_trips_and_is_checked() -> None:
    assert parse_next_batch(next_batch_token("rank", 20), "rank") == 20
    assert parse_next_batch(next_batch_token("recent", 345), "recent") == 345
    with pytest.raises(MatrixError):
        parse_next_batch(next_batch_token("rank", 20), "recent")
    assert parse_next_batch(None, "rank") is None
