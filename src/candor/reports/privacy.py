"""The privacy step: what of the true counts a partner may see.

Two methods, chosen by the app's agreement and stated in every report:

- **k threshold.** A cell is released exactly when at least `k` distinct people (senders
  and clickers) are in it; otherwise all its counts are withheld. Totals cover released
  cells only, so no suppressed count can be recovered by subtraction.
- **Differential privacy** (OpenDP's discrete Laplace mechanism). The unit of privacy is
  one action: a card sent (it adds 1 to `sends` and up to `recipients_cap` to
  `recipients`) or one click. The report's ε is split evenly over the four counts, each
  series' noise scale is its sensitivity over its ε share, and OpenDP's own privacy map
  checks the split. A single action touches at most two series, so its privacy loss is at
  most ε/2; the report claims the whole ε (sequential composition over all four). Every
  day and label combination gets a noisy row (see `aggregate.full_grid`). Clamping
  negatives to 0 and the click-through rate are post-processing and cost no privacy.

Pure functions with no I/O, tested exhaustively (`tests/reports/test_privacy.py`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import opendp.prelude as dp

from candor.reports.aggregate import CellCounts

dp.enable_features("contrib")

K_THRESHOLD = "k_threshold"
DIFFERENTIAL_PRIVACY = "differential_privacy"
SERIES = ("sends", "recipients", "first_clicks", "repeat_clicks")
RECIPIENTS_CAP = 20
MECHANISM = "discrete Laplace (OpenDP make_laplace)"
UNIT = (
    "one action: a recommendation card sent (adding 1 send and at most {cap} recipients) "
    "or one click"
)


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
    """The noise each series gets, derived from ε and checked by OpenDP's privacy map."""

    epsilon: float
    epsilon_per_count: float
    recipients_cap: int
    scales: dict[str, float]

    @classmethod
    def for_epsilon(cls, epsilon: float, recipients_cap: int = RECIPIENTS_CAP) -> "DPPlan":
        if not 0 < epsilon <= 100:
            raise PrivacyError("epsilon must be in (0, 100]")
        if recipients_cap < 1:
            raise PrivacyError("recipients_cap must be at least 1")
        share = epsilon / len(SERIES)
        scales = {name: _sensitivity(name, recipients_cap) / share for name in SERIES}
        plan = cls(epsilon, share, recipients_cap, scales)
        for name in SERIES:
            spent = float(_measurement(scales[name]).map(plan.sensitivity(name)))  # type: ignore[no-untyped-call]
            if spent > share * (1 + 1e-9):
                raise PrivacyError(f"OpenDP maps the {name} noise to ε={spent}, over {share}")
        return plan

    def sensitivity(self, name: str) -> int:
        return _sensitivity(name, self.recipients_cap)


def _sensitivity(name: str, recipients_cap: int) -> int:
    """How much one action can change a series: a card adds its (capped) recipients."""
    return recipients_cap if name == "recipients" else 1


def _measurement(scale: float) -> dp.Measurement:
    return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale)


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

    `recipients` must already be capped per card (the repository does it in SQL).
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
