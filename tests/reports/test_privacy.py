"""The privacy step: k-threshold suppression, the DP plan (ε split, per-person sensitivity,
scales, OpenDP's map), the DP plumbing with injected noise, and the statistics of OpenDP's
real noise."""

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from candor.reports import privacy
from candor.reports.aggregate import CellCounts
from candor.reports.privacy import (
    CONTRIBUTION_BOUND,
    MAX_CONTRIBUTION_BOUND,
    RECIPIENTS_CAP,
    SERIES,
    DPPlan,
    PrivacyError,
    ReleasedRow,
    click_through,
    differential_privacy,
    k_threshold,
    opendp_noise,
)

labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=32)
days = st.dates().map(lambda d: d.isoformat())
counts = st.integers(min_value=0, max_value=10_000)
cells_strategy = st.lists(
    st.builds(
        CellCounts,
        day=days,
        interface=labels,
        surface=labels,
        variant=labels,
        sends=counts,
        recipients=counts,
        first_clicks=counts,
        repeat_clicks=counts,
        people=st.integers(min_value=0, max_value=50),
    ),
    max_size=40,
)


def cell(people: int, sends: int = 5, day: str = "2026-11-10", variant: str = "a") -> CellCounts:
    return CellCounts(day, "web", "player", variant, sends, 3 * sends, 2, 1, people)


def discrete_laplace_variance(scale: float) -> float:
    """Var of P(k) ∝ exp(-|k|/b): 2a/(1-a)² with a = exp(-1/b), about 2b² for large b."""
    alpha = math.exp(-1 / scale)
    return 2 * alpha / (1 - alpha) ** 2


# --- k threshold ---------------------------------------------------------------------------


@hypothesis_settings(max_examples=200, deadline=None)
@given(cells=cells_strategy, k=st.integers(min_value=1, max_value=40))
def test_k_threshold_releases_exactly_the_cells_with_k_people(
    cells: list[CellCounts], k: int
) -> None:
    rows = k_threshold(cells, k)

    assert len(rows) == len(cells)
    for c, r in zip(cells, rows, strict=True):
        assert (r.day, r.interface, r.surface, r.variant) == c.key  # order and labels kept
        if c.people >= k:
            assert not r.suppressed
            assert (r.sends, r.recipients, r.first_clicks, r.repeat_clicks) == (
                c.sends,
                c.recipients,
                c.first_clicks,
                c.repeat_clicks,
            )
        else:
            assert r.suppressed
            assert (r.sends, r.recipients, r.first_clicks, r.repeat_clicks, r.ctr) == (
                None,
                None,
                None,
                None,
                None,
            )


@pytest.mark.parametrize("k", [1, 2, 10, 25])
def test_k_threshold_boundary_k_minus_one_is_suppressed_and_k_is_released(k: int) -> None:
    below, at, above = k_threshold([cell(k - 1), cell(k), cell(k + 1)], k)

    assert below.suppressed
    assert below.sends is None
    assert not at.suppressed
    assert at.sends == 5
    assert at.recipients == 15
    assert not above.suppressed


def test_k_threshold_with_no_cells_is_empty() -> None:
    assert k_threshold([], 10) == []


@pytest.mark.parametrize("k", [0, -1, -100])
def test_k_below_one_is_refused(k: int) -> None:
    with pytest.raises(PrivacyError, match="at least 1"):
        k_threshold([cell(50)], k)


def test_a_released_row_carries_its_click_through_rate() -> None:
    (row,) = k_threshold([cell(10, sends=5)], 10)

    assert row.ctr == click_through(2, 15) == 0.1333


# --- click-through -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_clicks", "recipients"), [(None, 10), (3, None), (None, None), (3, 0), (0, 0)]
)
def test_click_through_is_none_without_clicks_or_recipients(
    first_clicks: int | None, recipients: int | None
) -> None:
    assert click_through(first_clicks, recipients) is None


@pytest.mark.parametrize(
    ("first_clicks", "recipients", "expected"),
    [(1, 3, 0.3333), (2, 3, 0.6667), (0, 7, 0.0), (7, 7, 1.0), (1, 8, 0.125), (5, 3, 1.0)],
)
def test_click_through_rounds_to_four_places_and_caps_at_one(
    first_clicks: int, recipients: int, expected: float
) -> None:
    assert click_through(first_clicks, recipients) == expected


@given(first=st.integers(0, 10**6), recipients=st.integers(1, 10**6))
def test_click_through_is_always_a_fraction_with_four_decimals(first: int, recipients: int) -> None:
    ctr = click_through(first, recipients)

    assert ctr is not None
    assert 0 <= ctr <= 1
    assert round(ctr, 4) == ctr


# --- the DP plan ---------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.01, 0.5, 1.0, 2.0, 8.0, 100.0])
def test_plan_splits_epsilon_in_four_and_scales_by_the_per_person_sensitivity(
    epsilon: float,
) -> None:
    plan = DPPlan.for_epsilon(epsilon)

    share = epsilon / 4
    c = CONTRIBUTION_BOUND
    assert plan.epsilon == epsilon
    assert plan.epsilon_per_count == pytest.approx(share)
    assert (plan.contribution_bound, plan.recipients_cap) == (c, RECIPIENTS_CAP)
    assert set(plan.scales) == set(SERIES)
    assert plan.scales["sends"] == pytest.approx(c / share)
    assert plan.scales["first_clicks"] == pytest.approx(c / share)
    assert plan.scales["repeat_clicks"] == pytest.approx(c / share)
    assert plan.scales["recipients"] == pytest.approx(c * RECIPIENTS_CAP / share)


def test_the_default_bound_is_ten_cards_and_ten_clicks() -> None:
    plan = DPPlan.for_epsilon(1.0)  # the documented default (docs/reports.md)

    assert CONTRIBUTION_BOUND == 10
    assert plan.scales == {
        "sends": 40.0,
        "recipients": 800.0,
        "first_clicks": 40.0,
        "repeat_clicks": 40.0,
    }


@pytest.mark.parametrize("bound", [1, 3, 10, 250, MAX_CONTRIBUTION_BOUND])
@pytest.mark.parametrize("cap", [1, 5, 20, 100])
def test_sensitivity_is_the_bound_and_the_bound_times_the_cap_for_recipients(
    bound: int, cap: int
) -> None:
    plan = DPPlan.for_epsilon(1.0, contribution_bound=bound, recipients_cap=cap)

    assert (plan.contribution_bound, plan.recipients_cap) == (bound, cap)
    assert plan.sensitivity("recipients") == bound * cap
    assert [plan.sensitivity(n) for n in ("sends", "first_clicks", "repeat_clicks")] == [bound] * 3
    assert plan.scales["recipients"] == pytest.approx(bound * cap / 0.25)
    assert plan.scales["sends"] == pytest.approx(bound / 0.25)


@pytest.mark.parametrize("epsilon", [0.0, -0.0, -1.0, -1e-12, 100.0001, 1e9, math.inf, math.nan])
def test_epsilon_outside_zero_to_hundred_is_refused(epsilon: float) -> None:
    with pytest.raises(PrivacyError, match="epsilon"):
        DPPlan.for_epsilon(epsilon)


@pytest.mark.parametrize("bound", [0, -1, MAX_CONTRIBUTION_BOUND + 1])
def test_contribution_bound_outside_one_to_the_maximum_is_refused(bound: int) -> None:
    with pytest.raises(PrivacyError, match="contribution_bound"):
        DPPlan.for_epsilon(1.0, contribution_bound=bound)


@pytest.mark.parametrize("cap", [0, -1])
def test_recipients_cap_below_one_is_refused(cap: int) -> None:
    with pytest.raises(PrivacyError, match="recipients_cap"):
        DPPlan.for_epsilon(1.0, recipients_cap=cap)


@pytest.mark.parametrize("epsilon", [0.1, 1.0, 3.0, 100.0])
@pytest.mark.parametrize(("bound", "cap"), [(1, 1), (1, 20), (10, 20), (1000, 100)])
def test_opendp_privacy_map_confirms_epsilon_for_one_person(
    epsilon: float, bound: int, cap: int
) -> None:
    """OpenDP's maps, with one person as the unit (`dp.unit_of(contributions=…)` over the
    counted actions), give each series its share and the report its whole ε; the noise
    vector's own map at the L1 sensitivity agrees."""
    plan = DPPlan.for_epsilon(epsilon, contribution_bound=bound, recipients_cap=cap)

    spent = [plan.privacy_loss(name) for name in SERIES]
    assert spent == pytest.approx([plan.epsilon_per_count] * 4, rel=1e-9)
    assert sum(spent) == pytest.approx(epsilon, rel=1e-9)  # the whole ε, claimed by the report
    for name in SERIES:
        noise = privacy._measurement(plan.scales[name])
        assert float(noise.map(plan.sensitivity(name))) == pytest.approx(  # type: ignore[no-untyped-call]
            plan.epsilon_per_count, rel=1e-9
        )


def test_a_person_over_the_bound_would_cost_more_than_the_report_claims() -> None:
    """Why the bound must be enforced before counting: OpenDP maps a person with twice C
    counted actions to twice the ε share."""
    plan = DPPlan.for_epsilon(1.0, contribution_bound=10)
    measurement = privacy._person_level(plan.scales["sends"])

    assert float(measurement.map(10)) == pytest.approx(0.25)  # type: ignore[no-untyped-call]
    assert float(measurement.map(20)) == pytest.approx(0.5)  # type: ignore[no-untyped-call]


def test_a_scale_that_opendp_maps_over_the_share_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fail closed: if the scales were miscalibrated, OpenDP's own map stops the plan."""
    real = privacy._person_level
    monkeypatch.setattr(privacy, "_person_level", lambda scale: real(scale / 2))

    with pytest.raises(PrivacyError, match="OpenDP maps the sends noise"):
        DPPlan.for_epsilon(1.0)


# --- differential privacy: plumbing with deterministic noise -------------------------------


class RecordingNoise:
    """Deterministic noise: adds a per-scale offset and remembers each call."""

    def __init__(self, offsets: dict[float, int]) -> None:
        self.offsets = offsets
        self.calls: list[tuple[list[int], float]] = []

    def __call__(self, values: list[int], scale: float) -> list[int]:
        self.calls.append((list(values), scale))
        return [v + self.offsets[scale] for v in values]


def grid() -> list[CellCounts]:
    return [
        CellCounts("2026-11-10", "web", "player", "a", 10, 40, 6, 2, 9),
        CellCounts("2026-11-10", "ios", "detail", "b", 0, 0, 0, 0, 0),
        CellCounts("2026-11-11", "web", "player", "a", 3, 9, 1, 7, 4),
    ]


def test_each_series_gets_its_own_scale_and_order_is_kept() -> None:
    plan = DPPlan.for_epsilon(1.0, contribution_bound=1, recipients_cap=5)  # 4, 20, 4, 4
    noise = RecordingNoise({4.0: 1, 20.0: 100})

    rows = differential_privacy(grid(), plan, noise)

    assert noise.calls == [
        ([10, 0, 3], 4.0),
        ([40, 0, 9], 20.0),
        ([6, 0, 1], 4.0),
        ([2, 0, 7], 4.0),
    ]
    assert rows == [
        ReleasedRow("2026-11-10", "web", "player", "a", False, 11, 140, 7, 3),
        ReleasedRow("2026-11-10", "ios", "detail", "b", False, 1, 100, 1, 1),
        ReleasedRow("2026-11-11", "web", "player", "a", False, 4, 109, 2, 8),
    ]


def test_negative_noisy_counts_are_clamped_to_zero() -> None:
    plan = DPPlan.for_epsilon(1.0, contribution_bound=1)  # scales: 4, 80, 4, 4
    noise = RecordingNoise({4.0: -5, 80.0: -39})

    rows = differential_privacy(grid(), plan, noise)

    assert [(r.sends, r.recipients, r.first_clicks, r.repeat_clicks) for r in rows] == [
        (5, 1, 1, 0),
        (0, 0, 0, 0),
        (0, 0, 0, 2),
    ]
    assert all(not r.suppressed for r in rows)
    assert rows[0].ctr == 1.0  # post-processing: 1 first click over 1 recipient, capped
    assert rows[1].ctr is None


@hypothesis_settings(max_examples=100, deadline=None)
@given(cells=cells_strategy, offset=st.integers(-20_000, 20_000))
def test_dp_rows_match_cells_and_are_never_negative(cells: list[CellCounts], offset: int) -> None:
    plan = DPPlan.for_epsilon(2.0)
    rows = differential_privacy(cells, plan, lambda vals, _scale: [v + offset for v in vals])

    assert [(r.day, r.interface, r.surface, r.variant) for r in rows] == [c.key for c in cells]
    for c, r in zip(cells, rows, strict=True):
        assert r.sends == max(0, c.sends + offset)
        assert r.recipients == max(0, c.recipients + offset)
        assert r.first_clicks == max(0, c.first_clicks + offset)
        assert r.repeat_clicks == max(0, c.repeat_clicks + offset)


def test_no_cells_give_no_rows_with_real_noise() -> None:
    assert differential_privacy([], DPPlan.for_epsilon(1.0)) == []
    assert opendp_noise([], 4.0) == []


# --- differential privacy: statistics of OpenDP's real noise --------------------------------

N = 4000


@pytest.mark.parametrize("scale", [4.0, 80.0])
def test_opendp_noise_is_integer_unbiased_with_discrete_laplace_variance(scale: float) -> None:
    true = [1_000_000] * N

    noisy = opendp_noise(true, scale)

    assert len(noisy) == N
    assert all(type(v) is int for v in noisy)
    errors = [v - t for v, t in zip(noisy, true, strict=True)]
    expected = discrete_laplace_variance(scale)
    # The mean of N errors has standard deviation sqrt(var/N); 6 of them never flakes.
    assert abs(statistics.fmean(errors)) < 6 * math.sqrt(expected / N)
    assert statistics.pvariance(errors) == pytest.approx(expected, rel=0.25)
    assert len(set(errors)) > 5  # it is noise, not a constant


def test_dp_release_has_the_plans_noise_in_every_series() -> None:
    """Over 4,000 cells at ε=1 every series is unbiased with its own scale's variance."""
    plan = DPPlan.for_epsilon(1.0)
    # far from 0, so clamping never applies
    big = {
        "sends": 100_000,
        "recipients": 1_000_000,
        "first_clicks": 50_000,
        "repeat_clicks": 10_000,
    }
    sends, recipients, first, repeat = (big[n] for n in SERIES)
    cells = [
        CellCounts(f"d{i}", "web", "player", "a", sends, recipients, first, repeat, 1)
        for i in range(N)
    ]

    rows = differential_privacy(cells, plan)

    assert [r.day for r in rows] == [c.day for c in cells]
    for name in SERIES:
        errors = [getattr(r, name) - big[name] for r in rows]
        assert all(type(e) is int for e in errors)
        expected = discrete_laplace_variance(plan.scales[name])
        assert abs(statistics.fmean(errors)) < 6 * math.sqrt(expected / N), name
        assert statistics.pvariance(errors) == pytest.approx(expected, rel=0.25), name
    # recipients (scale 800) is much noisier than sends (scale 40): about 400x the variance.
    ratio = statistics.pvariance([r.recipients or 0 for r in rows]) / statistics.pvariance(
        [r.sends or 0 for r in rows]
    )
    assert 200 < ratio < 800


def test_zero_cells_are_released_noisy_and_clamped() -> None:
    plan = DPPlan.for_epsilon(1.0, contribution_bound=1)  # sends scale 4
    zeros = [CellCounts(f"d{i}", "web", "player", "a", 0, 0, 0, 0, 0) for i in range(N)]

    rows = differential_privacy(zeros, plan)

    sends = [r.sends for r in rows]
    assert all(isinstance(v, int) and v >= 0 for v in sends)
    # P(noise <= 0) = 1/(1+a) for the discrete Laplace (a = e^(-1/4) ≈ 0.78): about 56%.
    zero_share = sends.count(0) / N
    alpha = math.exp(-1 / plan.scales["sends"])
    assert zero_share == pytest.approx(1 / (1 + alpha), abs=0.06)
    assert max(v or 0 for v in sends) > 0  # a zero cell does not always read 0
