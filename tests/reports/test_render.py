"""Rendering an engagement report: CSV round-trips, the HTML escapes and states the privacy
method, the chart is self-contained SVG, and the PDF is made without fetching anything."""

import copy
import csv
import io
import logging
import math
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import TYPE_CHECKING, cast

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from weasyprint import HTML
from weasyprint.formatting_structure.boxes import TextBox

from candor.reports.render import (
    chart_figure,
    chart_svg,
    html_to_pdf,
    to_csv,
    to_html,
    to_pdf,
)

if TYPE_CHECKING:
    from matplotlib.transforms import Bbox

COLUMNS = [
    "day",
    "interface",
    "surface",
    "variant",
    "sends",
    "recipients",
    "first_clicks",
    "repeat_clicks",
    "ctr",
]
MEASURES = ["sends", "recipients", "first_clicks", "repeat_clicks", "ctr"]
SIGNATURE: Mapping[str, object] = {
    "format": "candor.report-signature/v1",
    "algorithm": "Ed25519",
    "key": "candor.example+1a2b3c4d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg=",
    "report_id": "rpt_k7Qm2x",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "signature": "c2lnbmF0dXJl",
}


def _row(
    day: str, interface: str, surface: str, variant: str, counts: tuple[int, int, int, int] | None
) -> dict[str, object]:
    labels: dict[str, object] = {
        "day": day,
        "interface": interface,
        "surface": surface,
        "variant": variant,
    }
    if counts is None:
        return {**labels, "suppressed": True, **dict.fromkeys(MEASURES)}
    sends, recipients, first, repeat = counts
    ctr = round(first / recipients, 4) if recipients else None
    return {
        **labels,
        "suppressed": False,
        "sends": sends,
        "recipients": recipients,
        "first_clicks": first,
        "repeat_clicks": repeat,
        "ctr": ctr,
    }


def _report(privacy: Mapping[str, object], rows: list[dict[str, object]]) -> dict[str, object]:
    released = [row for row in rows if not row["suppressed"]]
    totals: dict[str, object] = {
        m: sum(int(str(row[m])) for row in released) for m in MEASURES if m != "ctr"
    }
    recipients = int(str(totals["recipients"]))
    totals["ctr"] = round(int(str(totals["first_clicks"])) / recipients, 4) if recipients else None
    return {
        "format": "candor.engagement-report/v1",
        "report_id": "rpt_k7Qm2x",
        "issuer": "candor.example",
        "app": {"client_id": "app_9Xc1", "name": "StreamFlix"},
        "agreement_version": 1,
        "period": {"start": "2026-11-02", "end": "2026-11-15", "days": 14, "timezone": "UTC"},
        "generated_at": "2026-11-16T00:00:03Z",
        "privacy": privacy,
        "columns": COLUMNS,
        "rows": rows,
        "totals": totals,
    }


def k_threshold_report() -> dict[str, object]:
    rows = [
        _row("2026-11-02", "ios", "detail", "b", None),
        _row("2026-11-02", "web", "player", "a", (12, 30, 7, 2)),
        _row("2026-11-02", "web", "player", "b", (15, 41, 9, 0)),
        _row("2026-11-03", "android", "launcher", "a", (11, 22, 0, 0)),
        _row("2026-11-05", "web", "player", "a", (20, 0, 0, 0)),
    ]
    privacy = {
        "method": "k_threshold",
        "k": 10,
        "suppressed_cells": 1,
        "statement": "Cells describing fewer than 10 people are suppressed.",
    }
    return _report(privacy, rows)


def dp_report() -> dict[str, object]:
    rows = [
        _row("2026-11-02", "web", "player", "control", (31, 88, 14, 5)),
        _row("2026-11-09", "ios", "share-sheet", "control", (7, 19, 3, 1)),
        _row("2026-11-15", "web", "player", "control", (26, 70, 12, 4)),
    ]
    privacy = {
        "method": "differential_privacy",
        "epsilon": 1.0,
        "epsilon_per_count": 0.25,
        "delta": 0.0,
        "mechanism": "discrete Laplace (OpenDP 0.16 make_laplace)",
        "unit": "one person's sends and clicks over one day",
        "contribution_bound": 10,
        "recipients_cap": 20,
        "scales": {"sends": 4.0, "recipients": 80.0, "first_clicks": 4.0, "repeat_clicks": 4.0},
        "budget": {"total": 26.0, "spent": 1.0},
        "statement": "Each count carries discrete Laplace noise.",
    }
    return _report(privacy, rows)


def empty_report() -> dict[str, object]:
    privacy = {"method": "k_threshold", "k": 10, "suppressed_cells": 0, "statement": "Nothing."}
    return _report(privacy, [])


ALL_REPORTS = pytest.mark.parametrize(
    "report", [k_threshold_report(), dp_report(), empty_report()], ids=["k", "dp", "empty"]
)


def _pdf_text(report: Mapping[str, object]) -> str:
    """The PDF's text: pdftotext on the bytes if installed, else WeasyPrint's laid-out boxes."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is not None:  # pragma: no cover - depends on the machine
        done = subprocess.run(  # fixed binary, our own bytes on stdin
            [pdftotext, "-layout", "-", "-"],
            input=to_pdf(report, SIGNATURE),
            capture_output=True,
            check=True,
        )
        return done.stdout.decode()
    document = HTML(string=to_html(report, SIGNATURE), base_url=None).render()
    return " ".join(
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, TextBox)
    )


@ALL_REPORTS
def test_csv_parses_back_to_exactly_the_rows(report: dict[str, object]) -> None:
    text = to_csv(report)
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == [*COLUMNS, "suppressed"]
    parsed = list(reader)
    rows = report["rows"]
    assert isinstance(rows, list)
    assert len(parsed) == len(rows)
    for line, row in zip(parsed, rows, strict=True):
        assert line["suppressed"] == ("true" if row["suppressed"] else "false")
        for column in ("day", "interface", "surface", "variant"):
            assert line[column] == row[column]
        for column in MEASURES:
            value = row[column]
            if value is None:
                assert line[column] == ""
            elif column == "ctr":
                assert float(line[column]) == value
            else:
                assert int(line[column]) == value


def test_csv_has_no_preamble_and_marks_suppressed_counts_empty() -> None:
    lines = to_csv(k_threshold_report()).split("\r\n")
    assert lines[0] == ",".join([*COLUMNS, "suppressed"])
    assert lines[1] == "2026-11-02,ios,detail,b,,,,,,true"
    assert lines[-1] == ""  # every line, the last included, ends with CRLF
    assert to_csv(empty_report()) == ",".join([*COLUMNS, "suppressed"]) + "\r\n"


def test_csv_quotes_strings_a_spreadsheet_would_run_as_formulas() -> None:
    report = k_threshold_report()
    rows = report["rows"]
    assert isinstance(rows, list)
    rows[1]["variant"] = "-2+3"
    rows[2]["surface"] = "=cmd"
    parsed = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert parsed[1]["variant"] == "'-2+3"
    assert parsed[2]["surface"] == "'=cmd"
    assert parsed[1]["sends"] == "12"


@ALL_REPORTS
def test_html_shows_every_row_privacy_parameters_and_chart(report: dict[str, object]) -> None:
    page = to_html(report, SIGNATURE)
    assert "<title>Engagement report — StreamFlix</title>" in page
    assert "2026-11-02 to 2026-11-15" in page
    assert "candor.example" in page
    assert "<svg" in page
    assert "<script" not in page.lower()
    assert "@page { size: A4 landscape" in page
    rows = report["rows"]
    assert isinstance(rows, list)
    for row in rows:
        for label in ("day", "interface", "surface", "variant"):
            assert f'<td data-label="{label}">{row[label]}</td>' in page
    assert "rpt_k7Qm2x" in page
    assert str(SIGNATURE["sha256"]) in page
    assert str(SIGNATURE["key"]) in page
    assert "candor reports verify FILE.json" in page


def test_html_k_threshold_states_k_and_marks_suppressed_rows() -> None:
    page = to_html(k_threshold_report(), None)
    assert "<dt>k</dt><dd>10</dd>" in page
    assert "<dt>Suppressed cells</dt><dd>1</dd>" in page
    assert page.count("suppressed (&lt; 10 people)") == 1
    assert "23.33 %" in page  # 7 of 30 recipients clicked
    # recipients 0 gives no rate: shown as a dash, not 0 %
    assert (
        '<td class="num" data-label="repeat_clicks">0</td><td class="num" data-label="ctr">—</td>'
        in page
    )
    assert "rendered without its signature document" in page
    assert '<td class="num" data-label="sends">58</td>' in page  # total sends over released rows


def test_html_dp_states_epsilon_mechanism_unit_and_budget() -> None:
    page = to_html(dp_report(), SIGNATURE)
    assert "<dt>ε (this report)</dt><dd>1.0</dd>" in page
    assert "<dt>ε per count</dt><dd>0.25</dd>" in page
    assert "discrete Laplace (OpenDP 0.16 make_laplace)" in page
    assert "one person&#39;s sends and clicks over one day" in page
    assert "<dt>Recipients cap</dt><dd>20</dd>" in page
    assert "<dt>Counted per person</dt><dd>at most 10 cards and 10 clicks per period</dd>" in page
    assert "recipients 80.0" in page
    assert "1.0 of 26.0 spent" in page
    assert "suppressed (" not in page


def test_html_empty_report_says_no_activity() -> None:
    page = to_html(empty_report(), None)
    assert "No activity in this period." in page
    assert "no data" in page


def test_html_escapes_every_string_from_the_report() -> None:
    report = k_threshold_report()
    hostile = "<script>alert(1)</script>"
    report["app"] = {"client_id": '"><img src=x onerror=alert(1)>', "name": hostile}
    report["issuer"] = "<b>evil</b>"
    privacy = report["privacy"]
    assert isinstance(privacy, dict)
    privacy["statement"] = "<iframe src=javascript:alert(1)>"
    rows = report["rows"]
    assert isinstance(rows, list)
    rows[1]["variant"] = "<svg onload=alert(1)>"
    page = to_html(report, {**SIGNATURE, "key": "</code><script>x()</script>"})
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "<b>evil" not in page
    assert "<iframe" not in page
    assert "onload=alert" not in page.replace("&lt;svg onload=alert(1)&gt;", "")


def test_html_names_an_unknown_method_and_suppressed_rows_without_k() -> None:
    report = k_threshold_report()
    report["privacy"] = {"method": "secret_sauce"}
    page = to_html(report, None)
    assert "Privacy method: secret_sauce." in page
    assert ">suppressed</td>" in page


def test_malformed_report_renders_without_error() -> None:
    """A report missing sections or with odd values still renders: it is a view, not a check."""
    assert to_csv({}) == "suppressed\r\n"
    page = to_html({"rows": "x", "columns": 3, "app": None}, None)
    assert "Privacy method: not stated." in page
    odd = {"columns": COLUMNS, "rows": [{"day": "2026-11-02", "variant": "a", "sends": "many"}]}
    assert "<path" in chart_svg(odd)


def test_chart_draws_lines_per_variant_and_is_deterministic() -> None:
    report = k_threshold_report()
    svg = chart_svg(report)
    assert svg.startswith("<svg")
    assert re.search(r"<path|<polyline", svg)
    assert "sends (variant a)" in svg
    assert "first clicks (variant b)" in svg
    assert "variant b" in svg
    assert chart_svg(copy.deepcopy(report)) == svg
    # Only XML namespace names, nothing a renderer would fetch.
    assert set(re.findall(r"https?://[^\"'\s]+", svg)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert "<image" not in svg
    assert "<!DOCTYPE" not in svg


def test_charts_rendered_in_parallel_threads_are_identical() -> None:
    """Async callers render in worker threads; the process-global rcParams must not leak."""
    reports = [k_threshold_report(), dp_report()] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        charts = list(pool.map(chart_svg, reports))
    assert set(charts[0::2]) == {chart_svg(k_threshold_report())}
    assert set(charts[1::2]) == {chart_svg(dp_report())}


def test_chart_one_variant_has_plain_legend_and_period_ticks() -> None:
    svg = chart_svg(dp_report())
    assert ">sends<" in svg
    assert ">first clicks<" in svg
    assert "(variant" not in svg
    assert ">11-02<" in svg  # period start and end label the axis, even with no rows between
    assert ">11-14<" in svg


def test_chart_thins_tick_labels_on_a_long_period() -> None:
    report = dp_report()
    report["period"] = {"start": "2026-09-01", "end": "2026-11-29", "days": 90, "timezone": "UTC"}
    svg = chart_svg(report)
    labels = re.findall(r">(\d\d-\d\d)<", svg)
    assert 10 <= len(labels) <= 16
    assert labels[0] == "09-01"


def test_chart_treats_dollar_signs_in_labels_as_text() -> None:
    report = k_threshold_report()
    rows = report["rows"]
    assert isinstance(rows, list)
    rows[1]["variant"] = "$\\frac{1}{0"  # invalid TeX would raise if parsed as mathtext
    assert "$\\frac{1}{0" in chart_svg(report)


@pytest.mark.parametrize(
    "report",
    [
        empty_report(),
        _report(
            {"method": "k_threshold", "k": 10}, [_row("2026-11-02", "web", "player", "a", None)]
        ),
    ],
    ids=["no-rows", "all-suppressed"],
)
def test_chart_without_released_rows_says_no_data(report: dict[str, object]) -> None:
    svg = chart_svg(report)
    assert "no data" in svg
    assert "<polyline" not in svg


@ALL_REPORTS
def test_pdf_contains_app_name_and_period(report: dict[str, object]) -> None:
    pdf = to_pdf(report, SIGNATURE)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(report)
    assert "StreamFlix" in text
    assert "2026-11-02" in text
    assert "2026-11-15" in text


def test_pdf_rendering_fetches_no_url(caplog: pytest.LogCaptureFixture) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    page = (
        f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/a.css"></head>'
        f'<body><img src="http://127.0.0.1:{port}/x.png"><img src="file:///etc/hostname">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></body></html>'
    )
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = html_to_pdf(page)
    assert pdf.startswith(b"%PDF-")
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    listener.close()
    refusals = [r.getMessage() for r in caplog.records if "disallowed protocol" in r.getMessage()]
    assert len(refusals) >= 3


def long_report(days: int = 40) -> dict[str, object]:
    """Enough rows for several printed pages."""
    start = date(2026, 11, 2)
    rows = [
        _row(str(start + timedelta(days=n)), interface, "player", "a", (10 + n, 30, 5, 1))
        for n in range(days)
        for interface in ("web", "ios")
    ]
    report = k_threshold_report()
    long = _report(cast("Mapping[str, object]", report["privacy"]), rows)
    long["period"] = {
        "start": str(start),
        "end": str(start + timedelta(days=days - 1)),
        "days": days,
        "timezone": "UTC",
    }
    return long


def test_the_totals_row_appears_once_at_the_end_of_the_table_and_of_the_pdf() -> None:
    report = long_report()
    html = to_html(report, SIGNATURE)
    assert "<tfoot" not in html
    assert html.count("Total (released cells)") == 1
    table = html[html.index("<table") : html.index("</table>")]
    last_row = table[table.rindex("<tr") :]
    assert "Total (released cells)" in last_row

    document = HTML(string=html, base_url=None).render()
    assert len(document.pages) >= 3  # a footer would repeat on each of them
    text = _pdf_text(report)
    assert text.count("Total (released cells)") == 1
    assert text.index("Total (released cells)") > text.rindex("2026-12-11")


def _overlap(a: "Bbox", b: "Bbox") -> bool:
    return bool(a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1)


@pytest.mark.parametrize(
    "report", [k_threshold_report(), dp_report(), long_report()], ids=["k", "dp", "long"]
)
def test_the_legend_does_not_cover_the_plot(report: dict[str, object]) -> None:
    figure = chart_figure(report)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # type: ignore[no-untyped-call]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    (axes,) = figure.axes
    legends = figure.legends
    assert len(legends) == 1
    assert not axes.get_legend()
    assert not _overlap(legends[0].get_window_extent(renderer), axes.get_window_extent(renderer))


def test_a_day_with_only_withheld_cells_is_a_gap_not_a_zero() -> None:
    rows = [
        _row("2026-11-02", "web", "player", "a", (12, 30, 7, 2)),
        _row("2026-11-03", "web", "player", "a", None),  # only withheld: a gap
        _row("2026-11-03", "ios", "detail", "a", None),
        _row("2026-11-04", "web", "player", "a", (15, 41, 9, 0)),
        _row("2026-11-04", "ios", "detail", "a", None),  # some released: their sum
        # 2026-11-05: no cell at all, a quiet day: 0
    ]
    report = _report({"method": "k_threshold", "k": 10, "suppressed_cells": 3}, rows)
    (axes,) = chart_figure(report).axes
    sends, clicks = (
        [float(y) for y in cast("list[float]", line.get_ydata())] for line in axes.get_lines()
    )
    assert sends[0] == 12
    assert math.isnan(sends[1])
    assert math.isnan(clicks[1])
    assert sends[2] == 15
    assert clicks[2] == 9
    assert sends[3] == 0
    assert "nan" not in chart_svg(report).lower()  # a gap, not a NaN coordinate
