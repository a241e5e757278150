"""The report against a seeded simulation with a known ground truth (issue 6).

10,000 people, 100,000 sends and 20,000 clicks over the 14 days of a period, in
3 interfaces x 3 surfaces x 2 variants, plus events just outside the period and another
app's events that must not count. Label combinations are skewed so that some cells are
small: the k-threshold report must equal the truth exactly where it releases a cell, and
withhold exactly the cells with fewer than k people. In DP mode the report must state the
configured ε, cover every day, and the per-app budget must refuse over-spending while a
re-run spends nothing.
"""

import functools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import jsonschema
import pytest

from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.reports.document import schema
from candor.reports.errors import ReportError
from candor.reports.service import ReportsService
from candor.reports.sign import verify
from candor.store.models.share import ShareEvent
from tests.reports.conftest import NOW, PERIOD_END, PERIOD_START, Event, load_events, make_app

PEOPLE, SENDS, CLICKS = 10_000, 100_000, 20_000
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

    stored = await ReportsService(hs).produce(app.client_id)
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
    assert sum(t.sends for t in truth.values()) == SENDS
    text = stored.body.decode()
    assert "@p" not in text  # no user id leaks
    assert "card_" not in text


@pytest.mark.timeout(300)
async def test_differential_privacy_states_epsilon_and_keeps_the_budget(
    simulated: tuple[Homeserver, dict[tuple[str, str, str, str], Truth]],
) -> None:
    hs, truth = simulated
    app = await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    events, _ = simulate()
    await load_events(hs, app.client_id, events)
    service = ReportsService(hs)

    stored = await service.produce(app.client_id)
    doc = stored.document
    jsonschema.validate(doc, schema())
    privacy = doc["privacy"]
    assert privacy["method"] == "differential_privacy"
    assert privacy["epsilon"] == 1.0
    assert privacy["epsilon_per_count"] == 0.25
    assert privacy["budget"] == {"total": 2.5, "spent": 1.0}
    assert privacy["scales"]["sends"] == 4.0
    assert "label combinations appear is not protected" in privacy["statement"]
    # Every day x every combination seen: 14 x 18 cells, none withheld.
    combos = {k[1:] for k in truth}
    assert len(doc["rows"]) == 14 * len(combos)
    assert not any(r["suppressed"] for r in doc["rows"])
    # The noise is unbiased where clamping at 0 cannot matter (true sends >= 200).
    errors = [
        r["sends"] - truth[(r["day"], r["interface"], r["surface"], r["variant"])].sends
        for r in doc["rows"]
        if truth.get((r["day"], r["interface"], r["surface"], r["variant"]), Truth()).sends >= 200
    ]
    assert len(errors) > 50
    assert abs(sum(errors) / len(errors)) < 3  # scale 4: sd of the mean ~ 5.7/sqrt(n)
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
