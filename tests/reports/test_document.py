"""The v1 report document: built documents validate against the published JSON Schema, the
schema refuses anything that could carry more than the aggregates, totals cover released
rows only, and no user or room identifier can appear."""

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from candor.core.canonical_json import encode_canonical
from candor.reports.document import (
    COLUMNS,
    FORMAT,
    AppInfo,
    build,
    dp_privacy,
    k_threshold_privacy,
    schema,
)
from candor.reports.periods import Period
from candor.reports.privacy import (
    DIFFERENTIAL_PRIVACY,
    K_THRESHOLD,
    SERIES,
    DPPlan,
    ReleasedRow,
    click_through,
)

PERIOD = Period(date(2026, 11, 9), date(2026, 11, 22))
APP = AppInfo("app_flix", "StreamFlix", 1)
ROWS = [
    ReleasedRow("2026-11-10", "web", "player", "a", False, 12, 30, 7, 2),
    ReleasedRow("2026-11-10", "ios", "detail", "b", True, None, None, None, None),
    ReleasedRow("2026-11-11", "web", "player", "a", False, 3, 0, 0, 1),
]


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def make(
    rows: list[ReleasedRow] | None = None, privacy: dict[str, Any] | None = None
) -> dict[str, Any]:
    rows = ROWS if rows is None else rows
    return build(
        report_id="rpt_abcdefghijklmnopqrst",
        issuer="test.local",
        app=APP,
        period=PERIOD,
        generated_at="2026-11-23T00:00:03Z",
        privacy=privacy if privacy is not None else k_threshold_privacy(10, rows),
        rows=rows,
    )


def errors(doc: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(doc)]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_k_threshold_report_validates_and_has_the_v1_shape() -> None:
    doc = make()

    assert errors(doc) == []
    assert doc["format"] == FORMAT == "candor.engagement-report/v1"
    assert doc["columns"] == COLUMNS
    assert doc["app"] == {"client_id": "app_flix", "name": "StreamFlix"}
    assert doc["agreement_version"] == 1
    assert doc["period"] == {
        "start": "2026-11-09",
        "end": "2026-11-22",
        "days": 14,
        "timezone": "UTC",
    }
    assert doc["privacy"]["method"] == K_THRESHOLD
    assert doc["privacy"]["k"] == 10
    assert doc["privacy"]["suppressed_cells"] == 1
    assert "fewer than 10 distinct people" in doc["privacy"]["statement"]
    assert "(1 cell this period)" in doc["privacy"]["statement"]
    assert doc["rows"][0] == {
        "day": "2026-11-10",
        "interface": "web",
        "surface": "player",
        "variant": "a",
        "suppressed": False,
        "sends": 12,
        "recipients": 30,
        "first_clicks": 7,
        "repeat_clicks": 2,
        "ctr": 0.2333,
    }
    assert doc["rows"][1]["ctr"] is None
    assert doc["rows"][2]["ctr"] is None  # no recipients


def test_a_dp_report_validates_and_states_its_parameters() -> None:
    plan = DPPlan.for_epsilon(2.0, contribution_bound=3, recipients_cap=10)
    rows = [ReleasedRow("2026-11-10", "web", "player", "a", False, 0, 4, 9, 0)]

    doc = make(rows, dp_privacy(plan, 26.0, 6.0))

    assert errors(doc) == []
    p = doc["privacy"]
    assert p["method"] == DIFFERENTIAL_PRIVACY
    assert (p["epsilon"], p["epsilon_per_count"], p["delta"]) == (2.0, 0.5, 0.0)
    assert (p["contribution_bound"], p["recipients_cap"]) == (3, 10)
    assert p["scales"] == {
        "sends": 6.0,
        "recipients": 60.0,
        "first_clicks": 6.0,
        "repeat_clicks": 6.0,
    }
    assert p["budget"] == {"total": 26.0, "spent": 6.0}
    assert p["unit"].startswith("one person's activity in the period")
    assert "at most 3 recommendation cards" in p["unit"]
    assert "at most 10 recipients" in p["unit"]
    assert "at most 3 of their clicks" in p["unit"]
    assert "per person over the period" in p["statement"]
    assert (
        "at most 3 cards sent (each counting at most 10 recipients) and 3 clicks"
        in (p["statement"])
    )
    assert "ε = 2 for this report" in p["statement"]
    assert "spent ε = 6 of its 26 budget" in p["statement"]
    assert doc["rows"][0]["ctr"] == 1.0  # noisy clicks over recipients, capped at 1
    assert doc["totals"]["ctr"] == 1.0


def test_an_empty_report_validates_with_zero_totals() -> None:
    doc = make([])

    assert errors(doc) == []
    assert doc["rows"] == []
    assert doc["totals"] == {
        "sends": 0,
        "recipients": 0,
        "first_clicks": 0,
        "repeat_clicks": 0,
        "ctr": None,
    }
    assert doc["privacy"]["suppressed_cells"] == 0
    assert errors(make([], dp_privacy(DPPlan.for_epsilon(1.0), 26.0, 1.0))) == []


def test_totals_cover_only_released_rows() -> None:
    doc = make()

    released = [r for r in ROWS if not r.suppressed]
    for name in SERIES:
        assert doc["totals"][name] == sum(getattr(r, name) for r in released)
    assert doc["totals"] == {
        "sends": 15,
        "recipients": 30,
        "first_clicks": 7,
        "repeat_clicks": 3,
        "ctr": click_through(7, 30),
    }


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


REJECTED = {
    "a row with user_id": _set(("rows", 0, "user_id"), "@alice:test.local"),
    "a row with room_id": _set(("rows", 0, "room_id"), "!room:test.local"),
    "a top-level users key": _set(("users",), ["@alice:test.local"]),
    "extra privacy field": _set(("privacy", "people"), 3),
    "extra totals field": _set(("totals", "people"), 3),
    "extra app field": _set(("app", "owner"), "@alice:test.local"),
    "extra period field": _set(("period", "rooms"), 2),
    "a suppressed row with a number": _set(("rows", 1, "sends"), 4),
    "a suppressed row with a ctr": _set(("rows", 1, "ctr"), 0.5),
    "a released row with null": _set(("rows", 0, "recipients"), None),
    "an uppercase label": _set(("rows", 0, "interface"), "Web"),
    "a label with @": _set(("rows", 0, "surface"), "@alice"),
    "a label with !": _set(("rows", 0, "variant"), "!room"),
    "a label with a colon": _set(("rows", 0, "variant"), "a:b"),
    "a label of 33 characters": _set(("rows", 0, "variant"), "a" * 33),
    "an empty label": _set(("rows", 0, "variant"), ""),
    "a negative count": _set(("rows", 0, "sends"), -1),
    "a fractional count": _set(("rows", 0, "sends"), 1.5),
    "a negative total": _set(("totals", "sends"), -3),
    "a ctr over 1": _set(("rows", 0, "ctr"), 1.2),
    "a bad day": _set(("rows", 0, "day"), "2026-13-01"),
    "a bad period start": _set(("period", "start"), "yesterday"),
    "another timezone": _set(("period", "timezone"), "Europe/Paris"),
    "another format": _set(("format",), "candor.engagement-report/v2"),
    "a bad report id": _set(("report_id",), "report-1"),
    "other columns": _set(("columns",), ["day", "user_id"]),
    "k of zero": _set(("privacy", "k"), 0),
    "an unknown method": _set(("privacy", "method"), "none"),
    "agreement version 0": _set(("agreement_version",), 0),
    "no totals": lambda doc: doc.pop("totals"),
    "a row missing ctr": lambda doc: doc["rows"][0].pop("ctr"),
}


@pytest.mark.parametrize("change", REJECTED.values(), ids=REJECTED.keys())
def test_the_schema_rejects(change: Callable[[dict[str, Any]], None]) -> None:
    doc = copy.deepcopy(make())
    assert errors(doc) == []
    change(doc)

    assert errors(doc) != []


DP_REJECTED = {
    "a nonzero delta": _set(("privacy", "delta"), 1e-6),
    "epsilon of zero": _set(("privacy", "epsilon"), 0),
    "a zero scale": _set(("privacy", "scales", "sends"), 0),
    "an extra scale": _set(("privacy", "scales", "people"), 1.0),
    "k in a dp report": _set(("privacy", "k"), 10),
    "no budget": lambda doc: doc["privacy"].pop("budget"),
    "a contribution bound of zero": _set(("privacy", "contribution_bound"), 0),
    "a fractional contribution bound": _set(("privacy", "contribution_bound"), 2.5),
}


@pytest.mark.parametrize("change", DP_REJECTED.values(), ids=DP_REJECTED.keys())
def test_the_schema_rejects_bad_dp_parameters(change: Callable[[dict[str, Any]], None]) -> None:
    rows = [ReleasedRow("2026-11-10", "web", "player", "a", False, 0, 4, 1, 0)]
    doc = make(rows, dp_privacy(DPPlan.for_epsilon(1.0), 26.0, 1.0))
    assert errors(doc) == []
    change(doc)

    assert errors(doc) != []


def test_a_dp_report_signed_before_the_per_person_unit_still_validates() -> None:
    """Reports delivered before issue 13 stated the unit "one action" and no bound: the
    published v1 schema keeps accepting what was signed under it."""
    rows = [ReleasedRow("2026-11-10", "web", "player", "a", False, 0, 4, 1, 0)]
    doc = make(rows, dp_privacy(DPPlan.for_epsilon(1.0), 26.0, 1.0))
    del doc["privacy"]["contribution_bound"]
    doc["privacy"]["unit"] = "one action: a recommendation card sent or one click"

    assert errors(doc) == []


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=32)
count = st.integers(min_value=0, max_value=10**9)


@st.composite
def released_rows(draw: st.DrawFn) -> ReleasedRow:
    day = draw(st.dates(min_value=PERIOD.start, max_value=PERIOD.end)).isoformat()
    labels = (draw(label), draw(label), draw(label))
    if draw(st.booleans()):
        return ReleasedRow(day, *labels, True, None, None, None, None)
    return ReleasedRow(day, *labels, False, draw(count), draw(count), draw(count), draw(count))


@hypothesis_settings(max_examples=150, deadline=None)
@given(rows=st.lists(released_rows(), max_size=25), k=st.integers(1, 100))
def test_any_released_rows_give_a_valid_document_without_identifiers(
    rows: list[ReleasedRow], k: int
) -> None:
    doc = make(rows, k_threshold_privacy(k, rows))

    assert errors(doc) == []
    text = encode_canonical(doc).decode()
    assert "@" not in text  # no Matrix user id
    assert "!" not in text  # no Matrix room id
    assert len(doc["rows"]) == len(rows)
    assert doc["privacy"]["suppressed_cells"] == sum(r.suppressed for r in rows)
    released = [r for r in rows if not r.suppressed]
    for name in SERIES:
        assert doc["totals"][name] == sum(getattr(r, name) for r in released)
    for row, r in zip(doc["rows"], rows, strict=True):
        assert set(row) == {"suppressed", *COLUMNS}
        assert row["ctr"] == r.ctr


@hypothesis_settings(max_examples=50, deadline=None)
@given(rows=st.lists(released_rows(), max_size=10), epsilon=st.floats(0.01, 100))
def test_any_dp_document_validates(rows: list[ReleasedRow], epsilon: float) -> None:
    released = [r for r in rows if not r.suppressed]  # DP never suppresses
    doc = make(released, dp_privacy(DPPlan.for_epsilon(epsilon), 100.0, epsilon))

    assert errors(doc) == []
