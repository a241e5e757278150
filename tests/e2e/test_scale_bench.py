"""`bench/scale.py` runs every curve end to end against a real `candor serve`.

The benchmark is run by hand and compared against Synapse; this keeps it from rotting as
the API and the server change: at tiny sizes (a few seconds) every curve must finish with
its sizes reported, no error, no missed delivery and every idle long-poll sent. Speed is not
checked here (bench/README.md, docs/benchmarks.md).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(120)]

SCALE = Path(__file__).resolve().parents[2] / "bench" / "scale.py"
TINY = [
    "--quick",
    "--fanout-listeners=3",
    "--fanout-events=2",
    "--room-counts=3",
    "--sync-samples=2",
    "--history-sizes=200",
    "--history-pages=2",
    "--seed-concurrency=8",
    "--idle-connections=10",
    "--idle-users=2",
]


def test_every_curve_runs_against_candor(server: ServerProcess) -> None:
    assert server.proc is not None
    try:
        done = subprocess.run(
            [sys.executable, str(SCALE), server.base_url, f"--server-pid={server.proc.pid}", *TINY],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        # The abandoned idle long-polls stay open on the server until their timeout, and a
        # graceful stop would wait for them: nothing in this test needs one.
        server.kill()
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    curves = report["curves"]
    assert report["errors"] == 0
    assert [c for c in curves.values() if "error" in c or "timed_out_after_s" in c] == []
    fan = curves["fanout"]["3"]
    assert fan["missed"] == 0
    assert fan["until_all"]["n"] == 2
    assert fan["server_cpu_ms_per_delivery"] is not None
    rooms = curves["rooms"]["3"]
    assert rooms["joined_in_initial_sync"] == 3
    assert rooms["incremental_one_new"]["not_in_response"] == 0
    history = curves["history"]["200"]
    assert history["end"]["n"] == history["middle"]["n"] == 2
    idle = curves["idle"]["10"]
    assert idle["held_by_server"] == idle["polls_sent"] == 10
    assert idle["failed"] == 0
    assert idle["kib_per_connection"] is not None
