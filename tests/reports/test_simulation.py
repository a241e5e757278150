"""The report against a seeded simulation with a known ground truth (issue 6).

10,000 people, 100,000 sends and 20,000 clicks over the 14 days of a period, in
3 interfaces x 3 surfaces x 2 variants, plus one person who shares and clicks far more
than anyone (300 cards of 50 recipients, 150 clicks), events just outside the period and
another app's events that must not count. Label combinations are skewed so that some
cells are small: the k-threshold report must equal the truth exactly where it releases a
cell, and withhold exactly the cells with fewer than k people.

In DP mode the unit of privacy is one person per period (issue 13 item 12): the bounded
aggregate must equal the truth with each person's first C cards and C clicks kept, the
heavy person must move the release by exactly C sends, C x cap recipients and C clicks,
the report must state the unit, the bound, noise scales of sensitivity (C, or C x cap)
over the ε share, and ε as OpenDP's map gives it, and the noise must be unbiased around
the bounded truth. The per-app budget must refuse over-spending while a re-run spends
nothing.
"""

import functools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import jsonschema
import pytest

from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.reports import privacy as privacy_step
from candor.reports.aggregate import CellCounts
from candor.reports.document import schema
from candor.reports.errors import ReportError
from candor.reports.privacy import CONTRIBUTION_BOUND, RECIPIENTS_CAP, SERIES
from candor.reports.repository import aggregate_bounded
from candor.reports.sign import verify
from candor.store.models.share import ShareEvent
from candor.wiring import build_services
from tests.reports.conftest import NOW, PERIOD_END, PERIOD_START, Event, load_events, make_app
from tests.reports.test_privacy import discrete_laplace_variance

PEOPLE, SENDS, CLICKS = 10_000, 100_000, 20_000
HEAVY, HEAVY_SENDS, HEAVY_CLICKS, HEAVY_FAN = "@heavy:test.local", 300, 150, 50
INTERFACES = ("web", "ios", "android")
SURFACES = ("title_page", "player", "end_credits")
VARIANTS = ("a", "b")
K = 10


@dataclass
class Truth:
    sends: int = 0
    recipients: int = 0
    first_clicks: int = 0
    repeat_clicks: int = 0
    people: set[str] = field(default_factory=set)


@functools.cache
def simulate(
    seed: int = 20261129,
) -> tuple[tuple[Event, ...], dict[tuple[str, str, str, str], Truth]]:
    rng = random.Random(seed)
    people = [f"@p{i}:test.local" for i in range(PEOPLE)]
    combos = [(i, s, v) for i in INTERFACES for s in SURFACES for v in VARIANTS]
    # Skewed popularity: the last combinations are rare, so some of their cells are small.
    weights = [0.6**n for n in range(len(combos))]
    days = [(PERIOD_START + timedelta(d)).isoformat() for d in range(14)]
    events: list[Event] = []
    truth: dict[tuple[str, str, str, str], Truth] = defaultdict(Truth)
    cards: list[tuple[int, tuple[str, str, str], list[str], str]] = []
    for n in range(SENDS):
        d = rng.randrange(14)
        combo = rng.choices(combos, weights)[0]
        sender = rng.choice(people)
        recipients = rng.sample(people, rng.randint(1, 5))
        card_id = f"card_{n}"
        events.append(Event(days[d], *combo, ShareEvent.SEND, sender, len(recipients), card_id))
        t = truth[(days[d], *combo)]
        t.sends += 1
        t.recipients += len(recipients)
        t.people.add(sender)
        cards.append((d, combo, recipients, card_id))
    clicked: set[tuple[str, str]] = set()
    made = 0
    while made < CLICKS:
        d, combo, recipients, card_id = rng.choice(cards)
        who = rng.choice(recipients)
        day_index = d + rng.choice((0, 0, 0, 1, 2, 5))
        first = (card_id, who) not in clicked
        clicked.add((card_id, who))
        kind = ShareEvent.FIRST_CLICK if first else ShareEvent.REPEAT_CLICK
        made += 1
        if day_index >= 14:  # clicked after the period: belongs to the next report
            day = (PERIOD_START + timedelta(day_index)).isoformat()
            events.append(Event(day, *combo, kind, who, 0, card_id))
            continue
        events.append(Event(days[day_index], *combo, kind, who, 0, card_id))
        t = truth[(days[day_index], *combo)]
        if first:
            t.first_clicks += 1
        else:
            t.repeat_clicks += 1
        t.people.add(who)
    # One person far over any bound: cards to 50 people (over the recipients cap), clicks.
    for n in range(HEAVY_SENDS + HEAVY_CLICKS):
        d, combo = rng.randrange(14), rng.choice(combos)
        t = truth[(days[d], *combo)]
        t.people.add(HEAVY)
        if n < HEAVY_SENDS:
            events.append(Event(days[d], *combo, ShareEvent.SEND, HEAVY, HEAVY_FAN, f"heavy_{n}"))
            t.sends += 1
            t.recipients += HEAVY_FAN
        else:
            events.append(Event(days[d], *combo, ShareEvent.FIRST_CLICK, HEAVY, 0, "card_0"))
            t.first_clicks += 1
    # Just before the period: must not count.
    before = (PERIOD_START - timedelta(1)).isoformat()
    events += [Event(before, "web", "player", "a", ShareEvent.SEND, p, 3) for p in people[:50]]
    return tuple(events), truth


@pytest.fixture
async def simulated(hs: Homeserver) -> tuple[Homeserver, dict[tuple[str, str, str, str], Truth]]:
    events, truth = simulate()
    other = await make_app(hs, "Other", k=K)
    await load_events(hs, other.client_id, events[:5000])
    hs.settings.reports.epsilon_budget = 2.5
    return hs, truth


@pytest.mark.timeout(300)
async def test_k_threshold_report_equals_the_ground_truth(
    simulated: tuple[Homeserver, dict[tuple[str, str, str, str], Truth]],
) -> None:
    hs, truth = simulated
    app = await make_app(hs, k=K)
    events, _ = simulate()
    await load_events(hs, app.client_id, events)

    stored = await build_services(hs).reports.produce(app.client_id)
    doc = stored.document
    jsonschema.validate(doc, schema())
    verify(doc, stored.signature, hs.transparency.signer.verifier())
    assert doc["period"] == {
        "start": PERIOD_START.isoformat(),
        "end": PERIOD_END.isoformat(),
        "days": 14,
        "timezone": "UTC",
    }
    rows = {(r["day"], r["interface"], r["surface"], r["variant"]): r for r in doc["rows"]}
    assert set(rows) == set(truth)
    suppressed = released = 0
    for key, t in truth.items():
        row = rows[key]
        if len(t.people) < K:
            suppressed += 1
            assert row["suppressed"] is True
            assert row["sends"] is row["recipients"] is row["first_clicks"] is None
        else:
            released += 1
            assert row["suppressed"] is False
            assert (row["sends"], row["recipients"], row["first_clicks"], row["repeat_clicks"]) == (
                t.sends,
                t.recipients,
                t.first_clicks,
                t.repeat_clicks,
            )
    assert suppressed > 0, "the simulation should withhold some cells"
    assert released > 0
    assert doc["privacy"]["suppressed_cells"] == suppressed
    big = [t for t in truth.values() if len(t.people) >= K]
    assert doc["totals"]["sends"] == sum(t.sends for t in big)
    assert doc["totals"]["first_clicks"] == sum(t.first_clicks for t in big)
    assert sum(t.sends for t in truth.values()) == SENDS + HEAVY_SENDS
    text = stored.body.decode()
    assert "@p" not in text  # no user id leaks
    assert "card_" not in text


Counts = dict[tuple[str, str, str, str], tuple[int, int, int, int]]


def bounded_truth(events: Iterable[Event], bound: int, cap: int = RECIPIENTS_CAP) -> Counts:
    """The period's cells with each person's first `bound` cards and first `bound` clicks,
    in (day, interface, surface, variant, kind, recipients) order, and `cap` recipients at
    most per card: what `aggregate_bounded` must return, computed the slow, obvious way."""
    first, last = PERIOD_START.isoformat(), PERIOD_END.isoformat()
    ordered = sorted(
        (e for e in events if first <= e.day <= last),
        key=lambda e: (e.day, e.interface, e.surface, e.variant, e.kind, e.recipients),
    )
    used: Counter[tuple[str, bool]] = Counter()
    cells: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in ordered:
        mine = (e.person, e.kind == ShareEvent.SEND)
        if used[mine] == bound:
            continue
        used[mine] += 1
        c = cells[(e.day, e.interface, e.surface, e.variant)]
        if e.kind == ShareEvent.SEND:
            c[0] += 1
            c[1] += min(e.recipients, cap)
        else:
            c[2 if e.kind == ShareEvent.FIRST_CLICK else 3] += 1
    return {k: (c[0], c[1], c[2], c[3]) for k, c in cells.items()}


def as_counts(cells: Iterable[CellCounts]) -> Counts:
    return {
        c.key: (c.sends, c.recipients, c.first_clicks, c.repeat_clicks)
        for c in cells
        if (c.sends, c.recipients, c.first_clicks, c.repeat_clicks) != (0, 0, 0, 0)
    }


def l1(a: Counts, b: Counts) -> tuple[int, ...]:
    """Per series, the L1 distance between two releases (cells missing count as 0)."""
    zero = (0, 0, 0, 0)
    return tuple(
        sum(abs(a.get(k, zero)[i] - b.get(k, zero)[i]) for k in a.keys() | b.keys())
        for i in range(4)
    )


def without_heavy_events(events: Iterable[Event]) -> list[Event]:
    return [e for e in events if e.person != HEAVY]


async def bounded_cells(hs: Homeserver, client_id: str, bound: int) -> Counts:
    cells = await hs.db.read_off_loop(
        functools.partial(
            aggregate_bounded,
            client_id=client_id,
            first_day=PERIOD_START.isoformat(),
            last_day=PERIOD_END.isoformat(),
            per_person=bound,
            recipients_cap=RECIPIENTS_CAP,
        )
    )
    return as_counts(cells)


@pytest.mark.timeout(300)
async def test_one_person_moves_the_bounded_aggregate_by_at_most_the_bound(
    simulated: tuple[Homeserver, dict[tuple[str, str, str, str], Truth]],
) -> None:
    """The unit is a person: the SQL keeps each person's first C cards and C clicks of the
    period (checked against a slow reference), and removing the person who shared 300
    cards and clicked 150 times changes the whole release by exactly C sends, C x cap
    recipients and C clicks — not by 300, 15,000 and 150."""
    hs, _truth = simulated
    events, _ = simulate()
    app = await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    await load_events(hs, app.client_id, events)
    without = await make_app(hs, "Neighbour", privacy="differential_privacy", epsilon=1.0)
    await load_events(hs, without.client_id, without_heavy_events(events))
    c = CONTRIBUTION_BOUND

    with_heavy = await bounded_cells(hs, app.client_id, c)
    without_heavy = await bounded_cells(hs, without.client_id, c)

    assert with_heavy == bounded_truth(events, c)
    sends, recipients, first_clicks, repeat_clicks = l1(with_heavy, without_heavy)
    assert (sends, recipients, first_clicks + repeat_clicks) == (c, c * RECIPIENTS_CAP, c)
    # Without the bound the same person would move it by everything they did.
    unbounded = l1(
        bounded_truth(events, 10**6, 10**6), bounded_truth(without_heavy_events(events), 10**6)
    )
    assert unbounded[:3] == (HEAVY_SENDS, HEAVY_SENDS * HEAVY_FAN, HEAVY_CLICKS)
    # Other bounds hold too, and ordinary people (about 10 sends each) are bounded as well.
    assert await bounded_cells(hs, app.client_id, 3) == bounded_truth(events, 3)
    assert sum(v[0] for v in bounded_truth(events, c).values()) < SENDS


@pytest.mark.timeout(300)
async def test_differential_privacy_states_epsilon_and_keeps_the_budget(
    simulated: tuple[Homeserver, dict[tuple[str, str, str, str], Truth]],
) -> None:
    hs, truth = simulated
    app = await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    events, _ = simulate()
    await load_events(hs, app.client_id, events)
    service = build_services(hs).reports

    stored = await service.produce(app.client_id)
    doc = stored.document
    jsonschema.validate(doc, schema())
    privacy = doc["privacy"]
    assert privacy["method"] == "differential_privacy"
    assert privacy["epsilon"] == 1.0
    assert privacy["epsilon_per_count"] == 0.25
    assert privacy["budget"] == {"total": 2.5, "spent": 1.0}
    # The unit is one person; the bound is the agreement's (the default, C = 10).
    c = CONTRIBUTION_BOUND
    assert privacy["contribution_bound"] == c
    assert privacy["unit"].startswith("one person's activity in the period")
    assert f"at most {c} cards sent" in privacy["statement"]
    # Noise scale = sensitivity / ε share: C per count, C x cap for recipients.
    assert privacy["scales"] == {
        "sends": c / 0.25,
        "recipients": c * RECIPIENTS_CAP / 0.25,
        "first_clicks": c / 0.25,
        "repeat_clicks": c / 0.25,
    }
    # OpenDP's privacy map, one person as the unit, confirms the stated ε.
    sensitivity = {name: c * (RECIPIENTS_CAP if name == "recipients" else 1) for name in SERIES}
    spent = [
        float(privacy_step._person_level(privacy["scales"][name]).map(sensitivity[name]))  # type: ignore[no-untyped-call]
        for name in SERIES
    ]
    assert spent == pytest.approx([0.25] * 4)
    assert sum(spent) == pytest.approx(privacy["epsilon"])
    assert "label combinations appear is not protected" in privacy["statement"]
    # Every day x every combination seen: 14 x 18 cells, none withheld.
    combos = {k[1:] for k in truth}
    assert len(doc["rows"]) == 14 * len(combos)
    assert not any(r["suppressed"] for r in doc["rows"])
    # The noise is unbiased around the bounded truth where clamping at 0 cannot matter
    # (bounded sends >= 200; the scale is 40, so a draw below -200 is ~e^-5 rare).
    bounded = bounded_truth(events, c)
    assert sum(v[0] for v in bounded.values()) < sum(t.sends for t in truth.values())
    errors = [
        r["sends"] - bounded[(r["day"], r["interface"], r["surface"], r["variant"])][0]
        for r in doc["rows"]
        if bounded.get((r["day"], r["interface"], r["surface"], r["variant"]), (0,))[0] >= 200
    ]
    assert len(errors) > 50
    sd = math.sqrt(discrete_laplace_variance(privacy["scales"]["sends"]))
    assert abs(sum(errors) / len(errors)) < 5 * sd / math.sqrt(len(errors))
    assert any(e != 0 for e in errors), "counts must carry noise"

    # A re-run returns the same release and spends nothing.
    again = await service.produce(app.client_id, PERIOD_END)
    assert again.body == stored.body
    # The next period spends the second unit; a third would exceed the 2.5 budget.
    clock = hs.clock
    assert isinstance(clock, FakeClock)
    clock.set_ms(int((NOW + timedelta(days=14)).timestamp() * 1000))
    second = await service.produce(app.client_id)
    assert second.document["privacy"]["budget"]["spent"] == 2.0
    clock.set_ms(int((NOW + timedelta(days=28)).timestamp() * 1000))
    with pytest.raises(ReportError) as refused:
        await service.produce(app.client_id)
    assert refused.value.errcode == "CANDOR_PRIVACY_BUDGET_EXHAUSTED"
    assert len(await service.list_for_app(app.client_id)) == 2
