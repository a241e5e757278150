"""The report's cells before the privacy step: what happened per day x labels.

Pure data; the SQL that fills it is in `repository.py`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CellKey = tuple[str, str, str, str]  # day, interface, surface, variant


@dataclass(frozen=True, slots=True)
class CellCounts:
    """One cell's true counts. `people` (distinct senders and clickers in the cell) decides
    k-suppression and is never released."""

    day: str
    interface: str
    surface: str
    variant: str
    sends: int
    recipients: int
    first_clicks: int
    repeat_clicks: int
    people: int

    @property
    def key(self) -> CellKey:
        return (self.day, self.interface, self.surface, self.variant)


def full_grid(cells: Iterable[CellCounts], days: Sequence[str]) -> list[CellCounts]:
    """Every day of the period x every label combination seen in it, zeros included.

    Why: with differential privacy an absent row would itself reveal that nothing happened
    in that cell on that day, so DP mode releases a noisy count for every day. The label
    combinations come from the period's data: they are the partner's own labels, which the
    report states it does not protect.
    """
    by_key = {c.key: c for c in cells}
    combos = sorted({k[1:] for k in by_key})
    out = []
    for day in days:
        for interface, surface, variant in combos:
            key = (day, interface, surface, variant)
            out.append(
                by_key.get(key) or CellCounts(day, interface, surface, variant, 0, 0, 0, 0, 0)
            )
    return out
