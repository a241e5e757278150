"""Renders a signed engagement report as CSV, a standalone HTML page with a chart, and PDF.

Invariants: rendering never changes what the JSON says (the JSON and its signature are the
record; these are views of it), every string from the report is escaped as untrusted, and
nothing here touches the network: the chart is inline SVG with no external references and
the PDF renderer refuses every URL. Rendering is synchronous and CPU-bound; async callers
run it in a thread (`anyio.to_thread.run_sync`), which is why the chart avoids pyplot.
"""

import csv
import io
import logging
import math
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from candor.core.jinja import strict_environment

# matplotlib and WeasyPrint take about a second to import and only the chart and the PDF
# need them, so they are imported there: every `candor` command imports this module
# (through the web pages), and would otherwise pay for them at start-up. Jinja2 likewise
# (~2 MB of resident memory in a server that renders no report).
if TYPE_CHECKING:
    from matplotlib.figure import Figure

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: Columns that name a cell rather than count something; everything else is a measure.
LABEL_COLUMNS = frozenset({"day", "interface", "surface", "variant"})

#: Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# rcParams is process-global and rc_context restores it on exit, so two charts rendered
# at once could each see the other's restore; the lock keeps the salt and font settings
# in force for the whole savefig.
_CHART_LOCK = threading.Lock()
# No date (determinism) and no RDF block (it names dublincore URLs).
_SVG_METADATA: dict[str, str | None] = {"Date": None, "Type": None, "Creator": None, "Format": None}
_MAX_TICKS = 16


class _SvgPropertyNoise(logging.Filter):
    """Drops WeasyPrint's "unknown property" warning for SVG-only properties (stroke, fill…).

    WeasyPrint runs the HTML cascade over an inline <svg> too, and warns about each SVG
    `style` declaration it does not know as HTML CSS (hundreds per chart) although its SVG
    renderer then applies them. Other warnings, including unknown HTML properties, stay.
    """

    _NOISE = re.compile(r"Ignored `(stroke|fill|text-anchor)[a-z-]*:.*unknown property")

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._NOISE.match(record.getMessage())


logging.getLogger("weasyprint").addFilter(_SvgPropertyNoise())


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _rows(report: Mapping[str, object]) -> list[Mapping[str, object]]:
    rows = report.get("rows")
    return [_mapping(row) for row in rows] if isinstance(rows, Sequence) else []


def _columns(report: Mapping[str, object]) -> list[str]:
    columns = report.get("columns")
    return [str(c) for c in columns] if isinstance(columns, Sequence) else []


def _count(value: object) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _csv_cell(value: object) -> object:
    """Render one value so it parses back unchanged and cannot run as a spreadsheet formula.

    Only strings are guarded: a negative count stays a number, and validated labels never
    start with a formula character except "-", which is quoted like the rest.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def to_csv(report: Mapping[str, object]) -> str:
    """One header line (the report's columns, then `suppressed`) and one line per row.

    No comment or preamble lines, so any CSV reader takes it as is; the privacy method
    lives in the JSON and the HTML/PDF. A suppressed or absent count is an empty field,
    never 0, so a reader cannot mistake "hidden" for "nothing happened".
    """
    columns = [*_columns(report), "suppressed"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in _rows(report):
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _days(report: Mapping[str, object], rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Every day of the period (so a quiet day shows as 0) plus any row day."""
    period = _mapping(report.get("period"))
    days = {str(row.get("day")) for row in rows}
    start, end = period.get("start"), period.get("end")
    if isinstance(start, str) and isinstance(end, str):
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        days.update(str(first + timedelta(days=n)) for n in range((last - first).days + 1))
    return sorted(days)


def _svg(figure: "Figure") -> str:
    import matplotlib  # noqa: PLC0415 - see the imports
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: PLC0415

    out = io.StringIO()
    FigureCanvasSVG(figure)
    with (
        _CHART_LOCK,
        matplotlib.rc_context({"svg.hashsalt": "candor-report", "svg.fonttype": "none"}),
    ):
        figure.savefig(out, format="svg", metadata=_SVG_METADATA)
    text = out.getvalue()
    # Drop the XML prolog and DOCTYPE: the DOCTYPE names the W3C DTD by URL, and an inline
    # <svg> in HTML needs neither.
    return text[text.index("<svg") :]


def _variant_series(
    rows: Sequence[Mapping[str, object]], variant: str, position: Mapping[str, int], days: int
) -> tuple[list[float], list[float]]:
    """A variant's daily sends and first clicks: a day whose only cells for it were withheld
    is NaN (drawn as a gap: the count is unknown, not zero); a day with no cell is 0."""
    nan = float("nan")
    sends, clicks = [0.0] * days, [0.0] * days
    released: set[int] = set()
    withheld: set[int] = set()
    for row in rows:
        if str(row.get("variant")) != variant:
            continue
        n = position[str(row.get("day"))]
        if row.get("suppressed"):
            withheld.add(n)
            continue
        released.add(n)
        sends[n] += _count(row.get("sends"))
        clicks[n] += _count(row.get("first_clicks"))
    for n in withheld - released:
        sends[n] = clicks[n] = nan
    return sends, clicks


def chart_figure(report: Mapping[str, object]) -> "Figure":
    """Daily sends and first clicks over released rows, one line pair per variant.

    A suppressed row adds nothing (its counts are null), so the chart never shows more
    than the table; a day a variant had only suppressed cells is a gap in its lines, not a
    zero. The legend sits above the plot, outside it, so it never covers a line.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415 - see the imports
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    rows = _rows(report)
    released = [row for row in rows if not row.get("suppressed")]
    figure = Figure(figsize=(10, 3.4), layout="constrained")
    axes = figure.add_subplot()
    if not released:
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=14, color="#555555")
        return figure

    days = _days(report, rows)
    position = {day: n for n, day in enumerate(days)}
    variants = sorted({str(row.get("variant")) for row in released})
    for index, variant in enumerate(variants):
        sends, clicks = _variant_series(rows, variant, position, len(days))
        suffix = f" (variant {variant})" if len(variants) > 1 else ""
        color = f"C{index % 10}"
        axes.plot(range(len(days)), sends, color=color, marker="o", label="sends" + suffix)
        axes.plot(
            range(len(days)),
            clicks,
            color=color,
            linestyle="--",
            marker="s",
            label="first clicks" + suffix,
        )

    step = math.ceil(len(days) / _MAX_TICKS)
    ticks = list(range(0, len(days), step))
    axes.set_xticks(ticks, [days[n][5:] for n in ticks], rotation=45, ha="right")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0)
    axes.set_ylabel("per day")
    axes.grid(axis="y", color="#dddddd")
    legend = figure.legend(
        loc="outside upper center", ncols=min(4, 2 * len(variants)), fontsize=8, frameon=False
    )
    for text in legend.get_texts():
        text.set_parse_math(False)  # a "$" in a label is text, not TeX
    return figure


def chart_svg(report: Mapping[str, object]) -> str:
    """`chart_figure` as SVG. Text stays text (`svg.fonttype` none) and ids come from a
    fixed salt, so the same report gives the same bytes."""
    return _svg(chart_figure(report))


def to_html(report: Mapping[str, object], signature: Mapping[str, object] | None) -> str:
    """A standalone page (inline CSS, no script, A4 landscape when printed) for people.

    The signature document, when given, only adds its digest and key to the footer: this
    page is not the signed artefact, so it points the reader to `candor reports verify`.
    """
    from markupsafe import Markup  # noqa: PLC0415 - lazy, with Jinja2 (see the imports)

    columns = _columns(report)
    privacy = _mapping(report.get("privacy"))
    template = strict_environment(TEMPLATES_DIR).get_template("report.html")
    return template.render(
        report=report,
        app=_mapping(report.get("app")),
        period=_mapping(report.get("period")),
        privacy=privacy,
        budget=_mapping(privacy.get("budget")),
        scales=_mapping(privacy.get("scales")),
        label_columns=[c for c in columns if c in LABEL_COLUMNS],
        measure_columns=[c for c in columns if c not in LABEL_COLUMNS],
        rows=_rows(report),
        totals=_mapping(report.get("totals")),
        signature=signature,
        chart=Markup(chart_svg(report)),  # noqa: S704  # matplotlib escapes the SVG's text
    )


def html_to_pdf(html: str) -> bytes:
    """Print a page to PDF without fetching anything: every URL (http, file, data) is refused.

    A refused resource is left out with a logged warning rather than failing the render;
    our template references none, so a refusal means someone slipped a URL into the page.
    """
    from weasyprint import HTML  # noqa: PLC0415 - see the imports
    from weasyprint.urls import URLFetcher  # noqa: PLC0415

    no_fetching = URLFetcher(allowed_protocols=frozenset(), fail_on_errors=False)
    pdf: bytes = HTML(string=html, base_url=None, url_fetcher=no_fetching).write_pdf()
    return pdf


def to_pdf(report: Mapping[str, object], signature: Mapping[str, object] | None) -> bytes:
    """The HTML page printed to PDF (WeasyPrint), for partners who archive or forward files."""
    return html_to_pdf(to_html(report, signature))
