"""Reporting periods: fixed runs of UTC days, aligned so every worker agrees on them.

Periods are aligned to Monday 1970-01-05 in steps of the agreement's `reporting_days`, so
the scheduler in every worker (and after every restart) computes the same periods without
storing a cursor; the database's unique key on (app, start, end) makes each one happen once.
"""

from dataclasses import dataclass
from datetime import date, timedelta

ANCHOR = date(1970, 1, 5)  # a Monday: biweekly periods run Monday to Sunday
MAX_BACKFILL = 26  # periods the scheduler catches up on after a long stop


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def day_list(self) -> list[str]:
        return [(self.start + timedelta(d)).isoformat() for d in range(self.days)]


def ending_on(end: date, days: int) -> Period:
    """The period of `days` days whose last day is `end` (for `--period-end`)."""
    if days < 1:
        raise ValueError("a period has at least one day")
    return Period(end - timedelta(days - 1), end)


def aligned_containing(day: date, days: int) -> Period:
    """The aligned period that contains `day`."""
    if days < 1:
        raise ValueError("a period has at least one day")
    n = (day - ANCHOR).days // days
    start = ANCHOR + timedelta(n * days)
    return Period(start, start + timedelta(days - 1))


def last_complete(today: date, days: int) -> Period:
    """The latest aligned period that ended before `today` (its days can no longer change)."""
    current = aligned_containing(today, days)
    return aligned_containing(current.start - timedelta(1), days)


def due(today: date, days: int, since: date) -> list[Period]:
    """Complete aligned periods that end on or after `since`, oldest first, at most
    MAX_BACKFILL of them (the newest)."""
    out: list[Period] = []
    p = last_complete(today, days)
    while p.end >= since and len(out) < MAX_BACKFILL:
        out.append(p)
        p = aligned_containing(p.start - timedelta(1), days)
    return out[::-1]
