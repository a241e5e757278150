"""`candor demo` end to end: the real command, then its real effects read back from the data
directory's SQLite database (read-only) and the exported report files.

The tour runs once, in the test process (coverage sees it); the refusal of a used data
directory runs the installed `candor` script in a subprocess, as an operator would.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from candor.cli.main import app

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CANDOR = Path(sys.executable).parent / "candor"
STEPS = [
    "People register and log in",
    "Operator registers and approves StreamFlix",
    "alice connects StreamFlix (OAuth consent)",
    "Rooms: groups and DMs",
    "Encrypted chat (matrix-nio, E2EE)",
    "14 days of recommendations",
    "Inbox access to an unencrypted group: all-party consent",
    "Inbox access to an encrypted conversation",
    "Biweekly engagement report",
    "Witness checks the transparency log",
    "Where to look",
]


def run_candor(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env["COLUMNS"] = "220"  # Rich wraps at the terminal width: keep each line whole
    return subprocess.run(
        [str(CANDOR), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.mark.usefixtures("clean_candor_env")
def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    """`candor demo` through its Typer command, in the test process so that coverage sees
    the demo's code; it serves the real app with uvicorn and drives it with matrix-nio and
    authlib. The console script itself is exercised by the subprocess test below."""
    data = tmp_path / "demo-data"
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output[-3000:]
    out = result.output
    for step in STEPS:
        assert step in out, step
    assert out.count("✓") >= len(STEPS) - 1
    assert "CANDOR_ROOM_ENCRYPTED" in out
    assert "404 CANDOR_NOT_FOUND" in out
    assert "verified" in out
    secret = re.search(r"alice → bob in an E2EE DM: “(.+?)”", out)
    assert secret is not None, out
    plaintext = secret.group(1)

    db = sqlite3.connect(f"file:{data / 'candor.db'}?mode=ro", uri=True)
    try:
        (app_id,) = db.execute(
            "SELECT client_id FROM partner_apps WHERE name = 'StreamFlix'"
        ).fetchone()
        reports = db.execute(
            "SELECT body, period_start, period_end FROM reports WHERE client_id = ?", (app_id,)
        ).fetchall()
        assert len(reports) == 1
        body, start, end = reports[0]
        report = json.loads(body)
        assert report["app"] == {"client_id": app_id, "name": "StreamFlix"}
        assert (report["period"]["start"], report["period"]["end"]) == (start, end)
        rows = report["rows"]
        released = [r for r in rows if not r["suppressed"]]
        assert released, "k = 10 released no cell"
        assert {r["variant"] for r in released} == {"a", "b"}
        assert any(r["suppressed"] for r in rows)
        assert all(r["first_clicks"] > 0 and r["sends"] > 0 for r in released)
        # what the report counts is what the launcher and the clicks wrote
        (shares,) = db.execute(
            "SELECT count(*) FROM shares WHERE client_id = ?", (app_id,)
        ).fetchone()
        assert shares >= sum(r["sends"] for r in released)
        (clicked,) = db.execute(
            "SELECT count(*) FROM share_recipients WHERE first_click_ts IS NOT NULL"
        ).fetchone()
        assert clicked >= sum(r["first_clicks"] for r in released)

        records = [json.loads(r) for (r,) in db.execute("SELECT record_json FROM access_records")]
        reads = [r for r in records if r.get("action") == "partner.read_room_messages"]
        assert reads, records
        assert reads[0]["actor"]["id"] == app_id

        encrypted = db.execute(
            "SELECT count(*) FROM events WHERE type = 'm.room.encrypted'"
        ).fetchone()[0]
        assert encrypted >= 1
        leaked = db.execute(
            "SELECT count(*) FROM events WHERE content LIKE ?", (f"%{plaintext}%",)
        ).fetchone()[0]
        assert leaked == 0
    finally:
        db.close()

    files = sorted((data / "reports").iterdir())
    suffixes = {p.name.split(".", 1)[1] for p in files}
    assert suffixes == {"json", "json.sig", "csv", "html", "pdf"}
    assert all(p.stat().st_size > 0 for p in files)
    (report_file,) = [p for p in files if p.name.endswith(".json")]
    verified = run_candor(
        "reports", "verify", str(report_file), "--data-dir", str(data), timeout=60
    )
    assert verified.returncode == 0, verified.stderr
    assert "OK" in verified.stdout


def test_demo_refuses_a_used_data_dir(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("keep me")
    done = run_candor("demo", "--data-dir", str(tmp_path), timeout=60)
    assert done.returncode == 1
    assert "must be a new or empty directory" in done.stderr
    assert (tmp_path / "something").read_text() == "keep me"
    assert not (tmp_path / "candor.db").exists()
