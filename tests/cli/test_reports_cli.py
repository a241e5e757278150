"""`candor reports` in-process: run writes the five files once per period,
verify pins the data dir's key and fails in one line on any change, list and export, and
bad or premature `--period-end` values.

On SQLite: the reports' SQL runs on both engines in tests/reports; these tests are about
the command (its files, messages and exit codes)."""

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner, Result

from candor.cli.main import app
from candor.config import Settings
from candor.core.clock import FakeClock
from candor.reports.document import schema
from candor.reports.periods import Period, last_complete
from candor.store.models.share import ShareEvent
from candor.transparency.note import generate_key
from candor.wiring import build_homeserver
from tests.reports.conftest import Event, load_events, make_app

pytestmark = [pytest.mark.usefixtures("clean_candor_env"), pytest.mark.engines("sqlite")]

SUFFIXES = [".json", ".json.sig", ".csv", ".html", ".pdf"]


def today() -> date:
    """The CLI runs on the system clock, so the test's period is computed from it too."""
    return datetime.now(UTC).date()


@pytest.fixture
def period() -> Period:
    return last_complete(today(), 14)


@pytest.fixture
def db(settings: Settings) -> list[str]:
    return [
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        str(settings.database_url),
        "--server-name",
        settings.server_name,
    ]


def reports(*args: str | Path) -> Result:
    # A wide terminal keeps Rich from wrapping table cells (report ids, messages).
    return CliRunner().invoke(app, ["reports", *map(str, args)], env={"COLUMNS": "250"})


def one_line_error(result: Result, word: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error:"), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert word in result.stderr, result.stderr
    assert "Traceback" not in result.output


def seed(settings: Settings, period: Period, **terms: object) -> str:
    """An approved app (k=2 unless told) with events in `period`; returns its client_id."""

    async def go() -> str:
        now = datetime.combine(today(), datetime.min.time(), UTC)
        hs = build_homeserver(settings, FakeClock(int(now.timestamp() * 1000)))
        try:
            made = await make_app(hs, k=2, **terms)  # type: ignore[arg-type]
            day = (period.start + timedelta(1)).isoformat()
            other = (period.start + timedelta(2)).isoformat()
            await load_events(
                hs,
                made.client_id,
                [
                    Event(day, "web", "player", "a", ShareEvent.SEND, "@a:t", 3),
                    Event(day, "web", "player", "a", ShareEvent.SEND, "@b:t", 2),
                    Event(day, "web", "player", "a", ShareEvent.FIRST_CLICK, "@c:t"),
                    Event(day, "web", "player", "a", ShareEvent.REPEAT_CLICK, "@c:t"),
                    Event(other, "ios", "detail", "b", ShareEvent.SEND, "@a:t", 1),
                ],
            )
            return made.client_id
        finally:
            await hs.db.dispose()

    return asyncio.run(go())


def stem(client_id: str, period: Period) -> str:
    return f"{client_id}_{period.start}_{period.end}"


def exported(settings: Settings, db: list[str], period: Period, tmp_path: Path) -> tuple[str, Path]:
    """A seeded app whose report `candor reports run --out` wrote; its JSON file."""
    client_id = seed(settings, period)
    out = tmp_path / "out"
    assert reports("run", "--app", client_id, "--out", out, *db).exit_code == 0
    return client_id, out / f"{stem(client_id, period)}.json"


def test_run_writes_the_five_files_once_per_period(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    client_id = seed(settings, period)
    out = tmp_path / "out"

    first = reports("run", "--app", client_id, "--out", out, *db)

    assert first.exit_code == 0, first.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(stem(client_id, period) + s for s in SUFFIXES)
    doc = json.loads((out / f"{stem(client_id, period)}.json").read_bytes())
    jsonschema.validate(doc, schema())
    assert doc["app"]["client_id"] == client_id
    assert doc["period"]["start"] == period.start.isoformat()
    assert doc["period"]["end"] == period.end.isoformat()
    assert [r["suppressed"] for r in doc["rows"]] == [False, True]
    assert doc["rows"][0]["sends"] == 2
    assert doc["rows"][0]["recipients"] == 5
    sig = json.loads((out / f"{stem(client_id, period)}.json.sig").read_bytes())
    assert sig["report_id"] == doc["report_id"]
    csv_text = (out / f"{stem(client_id, period)}.csv").read_text()
    assert csv_text.splitlines()[0].startswith("day,interface,surface,variant")
    assert "<html" in (out / f"{stem(client_id, period)}.html").read_text().lower()
    assert (out / f"{stem(client_id, period)}.pdf").read_bytes().startswith(b"%PDF-")
    assert doc["report_id"] in first.stdout

    again = reports("run", "--app", client_id, "--out", tmp_path / "again", *db)

    assert again.exit_code == 0, again.output
    assert doc["report_id"] in again.stdout
    redone = (tmp_path / "again" / f"{stem(client_id, period)}.json").read_bytes()
    assert redone == (out / f"{stem(client_id, period)}.json").read_bytes()


def test_run_without_app_reports_every_approved_app(
    settings: Settings, db: list[str], period: Period
) -> None:
    client_id = seed(settings, period)

    result = reports("run", *db)

    assert result.exit_code == 0, result.output
    assert "StreamFlix" in result.stdout
    assert "rpt_" in result.stdout
    listing = reports("list", "--app", client_id, *db)
    assert listing.stdout.count("rpt_") == 1


def test_run_with_no_approved_apps_says_so(db: list[str]) -> None:
    result = reports("run", *db)

    assert result.exit_code == 0, result.output
    assert "no approved apps" in result.stdout


def test_verify_passes_with_the_data_dirs_key_pinned(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    report_id = json.loads(file.read_bytes())["report_id"]

    result = reports("verify", file, *db)

    assert result.exit_code == 0, result.output
    assert f"OK {file}: report {report_id}" in " ".join(result.stdout.split())
    assert "signed by test.local/candor-log+" in result.stdout
    assert "no key pinned" not in result.stdout


def test_verify_passes_after_pretty_printing(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    file.write_text(json.dumps(json.loads(file.read_bytes()), indent=3))

    result = reports("verify", file, *db)

    assert result.exit_code == 0, result.output


def test_verify_fails_in_one_line_after_a_count_is_edited(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    doc = json.loads(file.read_bytes())
    doc["rows"][0]["sends"] += 1
    file.write_text(json.dumps(doc))

    one_line_error(reports("verify", file, *db), "does not match this report")


def test_verify_fails_with_a_wrong_key(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    _, other = generate_key("test.local/candor-log")

    one_line_error(reports("verify", file, "--key", other), "not by the pinned key")
    one_line_error(reports("verify", file, "--key", "garbage"), "--key is not a verifier key")


def test_verify_without_a_pinned_key_warns(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)

    # An empty data dir holds no key, so nothing is pinned.
    result = reports("verify", file, "--data-dir", tmp_path / "elsewhere")

    assert result.exit_code == 0, result.output
    assert "no key pinned" in result.stdout


def test_verify_a_missing_or_broken_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    (tmp_path / "broken.json.sig").write_text("{}")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    (tmp_path / "list.json.sig").write_text("{}")
    nosig = tmp_path / "nosig.json"
    nosig.write_text("{}")

    one_line_error(reports("verify", missing), "cannot read")
    one_line_error(reports("verify", broken), "is not JSON")
    one_line_error(reports("verify", listed), "is not a JSON object")
    one_line_error(reports("verify", nosig), "cannot read")


def test_verify_a_signature_file_that_is_not_a_signature_is_one_line(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    sig = tmp_path / "other.sig"
    sig.write_text('{"format": "something else"}')

    one_line_error(reports("verify", file, "--signature", sig, *db), "not a Candor report")


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026/11/22", ""])
def test_a_bad_period_end_is_a_clear_error(db: list[str], bad: str) -> None:
    result = reports("run", "--app", "app_x", "--period-end", bad, *db)

    one_line_error(result, "--period-end must be a date (YYYY-MM-DD)")


def test_a_period_not_over_yet_exits_1_and_writes_nothing(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    client_id = seed(settings, period)
    out = tmp_path / "out"

    result = reports("run", "--app", client_id, "--period-end", today().isoformat(), *db)

    assert result.exit_code == 1, result.output
    assert f"The period ending {today().isoformat()} is not over yet" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert "rpt_" not in reports("list", "--app", client_id, *db).stdout


def test_an_explicit_period_end_reports_that_period(
    settings: Settings, db: list[str], period: Period
) -> None:
    client_id = seed(settings, period)
    end = period.end - timedelta(3)  # not aligned: --period-end takes any ended day

    result = reports("run", "--app", client_id, "--period-end", end.isoformat(), *db)

    assert result.exit_code == 0, result.output
    start = end - timedelta(13)
    assert f"{start} … {end}" in result.stdout


def test_run_for_an_unknown_app_is_one_line(db: list[str]) -> None:
    one_line_error(reports("run", "--app", "app_nope", *db), "No such app")


def test_list_shows_the_apps_reports(settings: Settings, db: list[str], period: Period) -> None:
    client_id = seed(settings, period)
    empty = reports("list", "--app", client_id, *db)
    made = reports("run", "--app", client_id, *db)
    assert made.exit_code == 0, made.output

    listing = reports("list", "--app", client_id, *db)

    assert empty.exit_code == 0, empty.output
    assert "rpt_" not in empty.stdout
    assert listing.exit_code == 0, listing.output
    (line,) = [x for x in listing.stdout.splitlines() if "rpt_" in x]
    assert f"{period.start} … {period.end}" in line
    assert "k_anonymity" in line
    assert line.split()[1].startswith("rpt_")
    one_line_error(reports("list", "--app", "app_nope", *db), "No such app")


def test_export_writes_the_files_and_they_verify(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    client_id = seed(settings, period)
    made = reports("run", "--app", client_id, *db)
    assert made.exit_code == 0, made.output
    (report_id,) = {w for w in made.stdout.split() if w.startswith("rpt_")}
    out = tmp_path / "export"

    result = reports("export", report_id, "--out", out, *db)

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        stem(client_id, period) + s for s in SUFFIXES
    )
    for s in SUFFIXES:
        assert str(out / (stem(client_id, period) + s)) in " ".join(result.stdout.split())
    file = out / f"{stem(client_id, period)}.json"
    assert json.loads(file.read_bytes())["report_id"] == report_id
    assert reports("verify", file, *db).exit_code == 0


@pytest.mark.parametrize("report_id", ["rpt_nope", "nope", "rpt_" + "x" * 100])
def test_export_of_an_unknown_report_is_one_line(
    db: list[str], tmp_path: Path, report_id: str
) -> None:
    result = reports("export", report_id, "--out", tmp_path / "x", *db)

    one_line_error(result, "No such report")
    assert not (tmp_path / "x").exists()


def test_a_dp_app_reports_noisy_rows_for_every_day(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    client_id = seed(settings, period, privacy="differential_privacy", epsilon=1.0)
    out = tmp_path / "out"

    result = reports("run", "--app", client_id, "--out", out, *db)

    assert result.exit_code == 0, result.output
    assert "ε=1" in result.stdout
    doc = json.loads((out / f"{stem(client_id, period)}.json").read_bytes())
    jsonschema.validate(doc, schema())
    assert doc["privacy"]["method"] == "differential_privacy"
    assert len(doc["rows"]) == 14 * 2  # every day x both label combinations
    assert reports("verify", out / f"{stem(client_id, period)}.json", *db).exit_code == 0


def test_a_period_end_near_the_start_of_the_calendar_is_a_clear_error(
    settings: Settings, db: list[str], period: Period
) -> None:
    client_id = seed(settings, period)

    result = reports("run", "--app", client_id, "--period-end", "0001-01-05", *db)

    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error:"), result.stderr
    assert "--period-end" in result.stderr


@pytest.mark.parametrize("command", ["run", "export"])
def test_an_out_path_that_is_a_file_is_a_clear_error(
    settings: Settings, db: list[str], period: Period, tmp_path: Path, command: str
) -> None:
    client_id = seed(settings, period)
    made = reports("run", "--app", client_id, *db)
    (report_id,) = {w for w in made.stdout.split() if w.startswith("rpt_")}
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = ["--app", client_id] if command == "run" else [report_id]

    result = reports(command, *target, "--out", blocker, *db)

    assert result.exception is None or isinstance(result.exception, SystemExit)
    one_line_error(result, str(blocker))
    assert blocker.read_text() == "not a directory"


def test_verify_with_an_unreadable_pinned_key_is_one_line(
    settings: Settings, db: list[str], period: Period, tmp_path: Path
) -> None:
    _, file = exported(settings, db, period, tmp_path)
    broken = tmp_path / "broken-data"
    broken.mkdir()
    (broken / "transparency.key").write_text("PRIVATE+KEY+garbage\n")

    one_line_error(reports("verify", file, "--data-dir", broken), "cannot read")
    one_line_error(
        reports("verify", file, "--server", "http://127.0.0.1:1"), "cannot get the server's key"
    )
