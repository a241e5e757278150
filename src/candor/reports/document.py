"""The report document (JSON, format `candor.engagement-report/v1`) and its JSON Schema.

The document is the one thing both sides hold: the partner receives it, the people
concerned can read it, and its canonical bytes are what the server signs. It carries no
user or room identifier by construction: rows are built only from `ReleasedRow`, whose
fields are a day, three partner labels and counts.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from candor.core.canonical_json import JsonDict
from candor.reports.periods import Period
from candor.reports.privacy import (
    DIFFERENTIAL_PRIVACY,
    K_THRESHOLD,
    MECHANISM,
    SERIES,
    UNIT,
    DPPlan,
    ReleasedRow,
    click_through,
)

FORMAT = "candor.engagement-report/v1"
COLUMNS = ["day", "interface", "surface", "variant", *SERIES, "ctr"]
SCHEMA_FILE = "engagement_report.schema.json"

# Any: a report document is JSON that readers walk by key path (rows, totals, privacy); its
# shape is the published JSON Schema (`schema()`), which checks it where mypy cannot.
ReportDocument = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppInfo:
    client_id: str
    name: str
    agreement_version: int


def k_threshold_privacy(k: int, rows: Sequence[ReleasedRow]) -> JsonDict:
    suppressed = sum(1 for r in rows if r.suppressed)
    return {
        "method": K_THRESHOLD,
        "k": k,
        "suppressed_cells": suppressed,
        "statement": (
            f"Counts are exact. A cell (day, interface, surface, variant) in which fewer "
            f"than {k} distinct people sent or clicked is withheld entirely ({suppressed} "
            f"{'cell' if suppressed == 1 else 'cells'} this period); totals cover the "
            "released cells only."
        ),
    }


def dp_privacy(plan: DPPlan, budget_total: float, spent: float) -> JsonDict:
    return {
        "method": DIFFERENTIAL_PRIVACY,
        "epsilon": plan.epsilon,
        "epsilon_per_count": plan.epsilon_per_count,
        "delta": 0.0,
        "mechanism": MECHANISM,
        "unit": UNIT.format(bound=plan.contribution_bound, cap=plan.recipients_cap),
        "contribution_bound": plan.contribution_bound,
        "recipients_cap": plan.recipients_cap,
        "scales": dict(plan.scales),
        "budget": {"total": budget_total, "spent": spent},
        "statement": (
            f"Every count has discrete Laplace noise added (ε = {plan.epsilon:g} for this "
            f"report, {plan.epsilon_per_count:g} per count; pure ε-differential privacy per "
            f"person over the period). Of each person, at most {plan.contribution_bound} "
            f"cards sent (each counting at most {plan.recipients_cap} recipients) and "
            f"{plan.contribution_bound} clicks are counted, the first ones of the period; "
            f"the noise is scaled to that. Negative results are shown as 0. Which label "
            f"combinations appear is not protected: they are the app's own labels. This app "
            f"has spent ε = {spent:g} of its {budget_total:g} budget, this report included."
        ),
    }


def build(
    *,
    report_id: str,
    issuer: str,
    app: AppInfo,
    period: Period,
    generated_at: str,
    privacy: JsonDict,
    rows: Sequence[ReleasedRow],
) -> ReportDocument:
    released = [r for r in rows if not r.suppressed]
    sums = {name: sum(int(getattr(r, name) or 0) for r in released) for name in SERIES}
    totals: JsonDict = {**sums, "ctr": click_through(sums["first_clicks"], sums["recipients"])}
    return {
        "format": FORMAT,
        "report_id": report_id,
        "issuer": issuer,
        "app": {"client_id": app.client_id, "name": app.name},
        "agreement_version": app.agreement_version,
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "days": period.days,
            "timezone": "UTC",
        },
        "generated_at": generated_at,
        "privacy": privacy,
        "columns": list(COLUMNS),
        "rows": [
            {
                "day": r.day,
                "interface": r.interface,
                "surface": r.surface,
                "variant": r.variant,
                "suppressed": r.suppressed,
                "sends": r.sends,
                "recipients": r.recipients,
                "first_clicks": r.first_clicks,
                "repeat_clicks": r.repeat_clicks,
                "ctr": r.ctr,
            }
            for r in rows
        ],
        "totals": totals,
    }


def schema() -> JsonDict:
    """The published JSON Schema (draft 2020-12) of the document."""
    text = resources.files("candor.reports").joinpath(SCHEMA_FILE).read_text("utf-8")
    loaded: JsonDict = json.loads(text)
    return loaded
