"""The privacy step: what of the true counts a partner may see.

Two methods, chosen by the app's agreement and stated in every report:

- **k threshold.** A cell is released exactly when at least `k` distinct people (senders
  and clickers) are in it; otherwise all its counts are withheld. Totals cover released
  cells only, so no suppressed count can be recovered by subtraction.
- **Differential privacy** (OpenDP's discrete Laplace mechanism). The unit of privacy is
  one person's activity in the period. Each person's contribution is bounded before any
  count is made (the repository keeps the first `contribution_bound` = C cards they sent
  and their first C clicks of the period, whatever cells these fall in), so adding or
  removing one person changes the whole release by at most C in `sends`, C x
  `recipients_cap` in `recipients` (each card counts at most that many recipients) and C
  in each click count (L1 over all cells). The report's ε is split evenly over the four
  counts, each series' noise scale is that sensitivity over its ε share, and OpenDP's own
  privacy map, asked at that sensitivity, checks each share; the report claims the whole
  ε (sequential composition over all four). Every day and label combination gets a noisy
  row (see `aggregate.full_grid`). Clamping negatives to 0 and the click-through rate are
  post-processing and cost no privacy.

Pure functions with no I/O, tested exhaustively (`tests/reports/test_privacy.py`).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from candor.reports.aggregate import CellCounts

if TYPE_CHECKING:
    from opendp.mod import Measurement

K_THRESHOLD = "k_threshold"
DIFFERENTIAL_PRIVACY = "differential_privacy"
SERIES = ("sends", "recipients", "first_clicks", "repeat_clicks")
RECIPIENTS_CAP = 20
# C: cards and clicks counted per person per period (the agreement's, this by default).
CONTRIBUTION_BOUND = 10
MAX_CONTRIBUTION_BOUND = 1000
MECHANISM = "discrete Laplace (OpenDP make_laplace)"
UNIT = (
    "one person's activity in the period: at most {bound} recommendation cards they sent "
    "(each adding 1 send and at most {cap} recipients) and at most {bound} of their clicks "
    "are counted, the first ones of the period"
)


@functools.cache
def _enable_opendp() -> None:
    """OpenDP is imported where it is used, on the first differentially private plan or
    release, not with this module: with numpy it costs ~28 MB of resident memory and
    0.15-0.25 s (once: the first such report or agreement check pays it), and only the
    differential-privacy method needs it, so a server that never uses it never loads it
    (tests/test_import_weight.py keeps it so)."""
    import opendp.prelude as dp  # noqa: PLC0415 - lazy, see the docstring

    dp.enable_features("contrib")


class PrivacyError(ValueError):
    """A privacy parameter outside what the mechanism can honour."""


@dataclass(frozen=True, slots=True)
class ReleasedRow:
    day: str
    interface: str
    surface: str
    variant: str
    suppressed: bool
    sends: int | None
    recipients: int | None
    first_clicks: int | None
    repeat_clicks: int | None

    @property
    def ctr(self) -> float | None:
        return click_through(self.first_clicks, self.recipients)


def click_through(first_clicks: int | None, recipients: int | None) -> float | None:
    """First clicks per recipient, 4 decimals, capped at 1 (noise can push it over)."""
    if first_clicks is None or not recipients:
        return None
    return round(min(1.0, first_clicks / recipients), 4)


def k_threshold(cells: Sequence[CellCounts], k: int) -> list[ReleasedRow]:
    if k < 1:
        raise PrivacyError("k must be at least 1")
    out = []
    for c in cells:
        if c.people >= k:
            out.append(
                ReleasedRow(
                    c.day,
                    c.interface,
                    c.surface,
                    c.variant,
                    False,
                    c.sends,
                    c.recipients,
                    c.first_clicks,
                    c.repeat_clicks,
                )
            )
        else:
            out.append(
                ReleasedRow(c.day, c.interface, c.surface, c.variant, True, None, None, None, None)
            )
    return out


@dataclass(frozen=True, slots=True)
class DPPlan:
    """The noise each series gets, derived from ε and the per-person bound, and checked by
    OpenDP's privacy map."""

    epsilon: float
    epsilon_per_count: float
    contribution_bound: int
    recipients_cap: int
    scales: dict[str, float]

    @classmethod
    def for_epsilon(
        cls,
        epsilon: float,
        contribution_bound: int = CONTRIBUTION_BOUND,
        recipients_cap: int = RECIPIENTS_CAP,
    ) -> "DPPlan":
        if not 0 < epsilon <= 100:
            raise PrivacyError("epsilon must be in (0, 100]")
        if not 1 <= contribution_bound <= MAX_CONTRIBUTION_BOUND:
            raise PrivacyError(f"contribution_bound must be 1 to {MAX_CONTRIBUTION_BOUND}")
        if recipients_cap < 1:
            raise PrivacyError("recipients_cap must be at least 1")
        share = epsilon / len(SERIES)
        scales = {
            name: _sensitivity(name, contribution_bound, recipients_cap) / share for name in SERIES
        }
        plan = cls(epsilon, share, contribution_bound, recipients_cap, scales)
        for name in SERIES:
            spent = plan.privacy_loss(name)
            if spent > share * (1 + 1e-9):
                raise PrivacyError(f"OpenDP maps the {name} noise to ε={spent}, over {share}")
        return plan

    def sensitivity(self, name: str) -> int:
        return _sensitivity(name, self.contribution_bound, self.recipients_cap)

    def privacy_loss(self, name: str) -> float:
        """ε of one series for one person, as OpenDP's privacy map computes it.

        OpenDP is given the series as it is made: the counted actions (for `recipients`,
        one record per counted recipient) tallied per cell, then the noise. The privacy
        unit is one person, who owns at most `sensitivity(name)` of those records once
        their contribution is bounded: `dp.unit_of(contributions=…)`. The count's stability
        map and the noise's privacy map then give the ε, not a formula of ours.
        """
        import opendp.prelude as dp  # noqa: PLC0415 - lazy: see _enable_opendp

        _enable_opendp()
        _metric, d_in = dp.unit_of(contributions=self.sensitivity(name))
        return float(_person_level(self.scales[name]).map(d_in))  # type: ignore[no-untyped-call]


def _sensitivity(name: str, contribution_bound: int, recipients_cap: int) -> int:
    """How much one person can change a series, in L1 over all cells of the period: at most
    `contribution_bound` of their cards and clicks are counted, and a card adds at most
    `recipients_cap` recipients."""
    return contribution_bound * (recipients_cap if name == "recipients" else 1)


def _measurement(scale: float) -> "Measurement":
    """The noise on a vector of counts (what `opendp_noise` draws from)."""
    import opendp.prelude as dp  # noqa: PLC0415 - lazy: see _enable_opendp

    _enable_opendp()
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale)


def _person_level(scale: float) -> "Measurement":
    """Records → count per cell → the same noise: the release as OpenDP accounts for it.

    The cell labels do not change the maps (one record moves one count by 1), so one
    category stands for the period's grid.
    """
    import opendp.prelude as dp  # noqa: PLC0415 - lazy: see _enable_opendp

    _enable_opendp()
    counts = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)),
        dp.symmetric_distance(),
        categories=["cell"],
        MO=dp.L1Distance[int],
    )
    chained: dp.Measurement = counts >> dp.m.then_laplace(scale)
    return chained


Noise = Callable[[list[int], float], list[int]]


def opendp_noise(values: list[int], scale: float) -> list[int]:
    """Discrete Laplace noise from OpenDP (its CSPRNG); a vector of the same length."""
    if not values:
        return []
    return [int(v) for v in _measurement(scale)(values)]


def differential_privacy(
    cells: Sequence[CellCounts], plan: DPPlan, noise: Noise = opendp_noise
) -> list[ReleasedRow]:
    """Noisy counts for every cell given (pass `aggregate.full_grid`'s output).

    The cells must already hold bounded contributions: at most `plan.contribution_bound`
    cards and clicks per person and `plan.recipients_cap` recipients per card
    (`repository.aggregate_bounded` does both in SQL); the noise is calibrated to that.
    """
    series = {
        "sends": [c.sends for c in cells],
        "recipients": [c.recipients for c in cells],
        "first_clicks": [c.first_clicks for c in cells],
        "repeat_clicks": [c.repeat_clicks for c in cells],
    }
    noisy = {
        name: [max(0, v) for v in noise(vals, plan.scales[name])] for name, vals in series.items()
    }
    return [
        ReleasedRow(
            c.day,
            c.interface,
            c.surface,
            c.variant,
            False,
            noisy["sends"][i],
            noisy["recipients"][i],
            noisy["first_clicks"][i],
            noisy["repeat_clicks"][i],
        )
        for i, c in enumerate(cells)
    ]
