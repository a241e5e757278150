"""Reporting periods (aligned, tiling, complete, due) and the day x labels grid built over a
period's days (`aggregate.full_grid`)."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.reports.aggregate import CellCounts, full_grid
from candor.reports.periods import (
    ANCHOR,
    MAX_BACKFILL,
    Period,
    aligned_containing,
    due,
    ending_on,
    last_complete,
)

period_days = st.integers(min_value=1, max_value=400)
any_day = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


def test_anchor_is_a_monday() -> None:
    assert ANCHOR.weekday() == 0


def test_period_days_and_day_list() -> None:
    p = Period(date(2026, 2, 27), date(2026, 3, 2))

    assert p.days == 4
    assert p.day_list() == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]


@given(end=any_day, days=period_days)
def test_ending_on_ends_on_the_day_and_has_the_length(end: date, days: int) -> None:
    p = ending_on(end, days)

    assert p.end == end
    assert p.days == days
    assert len(p.day_list()) == days
    assert p.day_list()[-1] == end.isoformat()


@pytest.mark.parametrize("days", [0, -1, -14])
def test_a_period_of_less_than_one_day_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        ending_on(date(2026, 11, 22), days)
    with pytest.raises(ValueError, match="at least one day"):
        aligned_containing(date(2026, 11, 22), days)
    with pytest.raises(ValueError, match="at least one day"):
        last_complete(date(2026, 11, 22), days)
    with pytest.raises(ValueError, match="at least one day"):
        due(date(2026, 11, 22), days, date(2026, 1, 1))


@given(day=any_day, days=period_days)
def test_aligned_containing_contains_the_day_and_is_aligned(day: date, days: int) -> None:
    p = aligned_containing(day, days)

    assert p.start <= day <= p.end
    assert p.days == days
    assert (p.start - ANCHOR).days % days == 0


@pytest.mark.parametrize("days", [1, 7, 14, 28, 30, 31, 90])
def test_every_day_of_a_year_maps_into_periods_that_tile_it(days: int) -> None:
    periods: list[Period] = []
    for n in range(366 + 2 * days):
        day = date(2027, 1, 1) - timedelta(days) + timedelta(n)
        p = aligned_containing(day, days)
        assert p.start <= day <= p.end
        if not periods or periods[-1] != p:
            periods.append(p)
    # Consecutive periods touch: no gap, no overlap, each the same length.
    for a, b in itertools.pairwise(periods):
        assert b.start == a.end + timedelta(1)
        assert a.days == b.days == days
    # Two days in the same period get the same period, always.
    assert len(periods) == len(set(periods))


def test_biweekly_periods_run_monday_to_sunday() -> None:
    p = aligned_containing(date(2026, 11, 23), 14)

    assert p == Period(date(2026, 11, 23), date(2026, 12, 6))
    assert p.start.weekday() == 0
    assert p.end.weekday() == 6


@given(today=any_day, days=period_days)
def test_last_complete_ends_before_today_and_the_next_contains_today(
    today: date, days: int
) -> None:
    p = last_complete(today, days)

    assert p.end < today
    assert p.days == days
    following = aligned_containing(p.end + timedelta(1), days)
    assert following.start == p.end + timedelta(1)
    assert following.start <= today <= following.end


def test_last_complete_on_the_first_day_of_a_period_is_the_one_just_ended() -> None:
    assert last_complete(date(2026, 11, 23), 14) == Period(date(2026, 11, 9), date(2026, 11, 22))
    assert last_complete(date(2026, 12, 6), 14) == Period(date(2026, 11, 9), date(2026, 11, 22))
    assert last_complete(date(2026, 12, 7), 14) == Period(date(2026, 11, 23), date(2026, 12, 6))


@given(today=any_day, days=period_days, back=st.integers(min_value=-50, max_value=20_000))
def test_due_periods_are_complete_recent_and_oldest_first(
    today: date, days: int, back: int
) -> None:
    since = today - timedelta(back)

    periods = due(today, days, since)

    assert len(periods) <= MAX_BACKFILL
    for p in periods:
        assert p.end < today  # over
        assert p.end >= since  # none ending before `since`
        assert p == aligned_containing(p.start, days)
    for a, b in itertools.pairwise(periods):
        assert b.start == a.end + timedelta(1)  # oldest first, contiguous
    if periods:
        assert periods[-1] == last_complete(today, days)
        if len(periods) < MAX_BACKFILL:
            # Nothing older was left out: the one before the oldest ended before `since`.
            before = aligned_containing(periods[0].start - timedelta(1), days)
            assert before.end < since
    else:
        assert last_complete(today, days).end < since


def test_due_keeps_only_the_newest_max_backfill_periods() -> None:
    today = date(2026, 11, 23)

    periods = due(today, 14, date(2000, 1, 1))

    assert len(periods) == MAX_BACKFILL
    assert periods[-1] == Period(date(2026, 11, 9), date(2026, 11, 22))
    assert periods[0].start == date(2026, 11, 9) - timedelta(14 * (MAX_BACKFILL - 1))


def test_due_for_an_app_registered_mid_period_includes_that_period() -> None:
    today = date(2026, 11, 23)

    assert due(today, 14, date(2026, 11, 22)) == [Period(date(2026, 11, 9), date(2026, 11, 22))]
    assert due(today, 14, date(2026, 11, 1)) == [
        Period(date(2026, 10, 26), date(2026, 11, 8)),
        Period(date(2026, 11, 9), date(2026, 11, 22)),
    ]
    assert due(today, 14, date(2026, 11, 23)) == []  # registered today: nothing is over yet


# --- aggregate.full_grid --------------------------------------------------------------------


def cc(day: str, labels: str, sends: int, people: int = 1) -> CellCounts:
    interface, surface, variant = labels.split("/")
    return CellCounts(day, interface, surface, variant, sends, 2 * sends, 1, 0, people)


def test_full_grid_fills_every_day_and_combination_with_zeros() -> None:
    cells = [cc("2026-11-10", "web/player/a", 4, 3), cc("2026-11-11", "ios/detail/b", 2, 2)]
    days = ["2026-11-09", "2026-11-10", "2026-11-11"]

    out = full_grid(cells, days)

    assert [c.key for c in out] == [
        (d, *combo)
        for d in days
        for combo in [("ios", "detail", "b"), ("web", "player", "a")]  # sorted combos
    ]
    assert out[3] == cells[0]  # 2026-11-10 web/player/a kept as it was
    assert out[4] == cells[1]  # 2026-11-11 ios/detail/b
    zeros = [c for c in out if c not in cells]
    assert len(zeros) == 4
    for z in zeros:
        assert (z.sends, z.recipients, z.first_clicks, z.repeat_clicks, z.people) == (0,) * 5


def test_full_grid_of_nothing_is_empty() -> None:
    assert full_grid([], ["2026-11-09", "2026-11-10"]) == []
    assert full_grid([cc("2026-11-10", "web/player/a", 1)], []) == []


cell_strategy = st.builds(
    CellCounts,
    day=st.sampled_from([f"2026-11-{d:02d}" for d in range(9, 23)]),
    interface=st.sampled_from(["web", "ios", "android"]),
    surface=st.sampled_from(["player", "detail"]),
    variant=st.sampled_from(["a", "b", "c"]),
    sends=st.integers(0, 100),
    recipients=st.integers(0, 100),
    first_clicks=st.integers(0, 100),
    repeat_clicks=st.integers(0, 100),
    people=st.integers(0, 100),
)


@given(cells=st.lists(cell_strategy, max_size=30, unique_by=lambda c: c.key))
def test_full_grid_is_every_day_times_every_seen_combination(cells: list[CellCounts]) -> None:
    days = Period(date(2026, 11, 9), date(2026, 11, 22)).day_list()

    out = full_grid(cells, days)

    combos = {c.key[1:] for c in cells}
    assert len(out) == len(days) * len(combos)
    assert {c.key for c in out} == {(d, *combo) for d in days for combo in combos}
    assert [c.key for c in out] == sorted(c.key for c in out)
    by_key = {c.key: c for c in out}
    for c in cells:
        assert by_key[c.key] == c  # existing cells kept exactly
    for key, c in by_key.items():
        if key not in {x.key for x in cells}:
            assert (c.sends, c.recipients, c.first_clicks, c.repeat_clicks, c.people) == (0,) * 5
