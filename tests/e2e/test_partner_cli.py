"""`candor partner` against a running `candor serve`, configured only by the same
`CANDOR_*` variables: what the CLI creates, approves and suspends is what the server's
public list shows. One subprocess test; the CLI's outputs and one-line errors are proved
in-process, on both engines, by tests/cli/test_partner.py, so this one runs on SQLite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(120)]

CANDOR = Path(sys.executable).parent / "candor"
FLIX = [
    "--name",
    "Flix",
    "--redirect-uri",
    "https://flix.example/cb",
    "--redirect-uri",
    "http://127.0.0.1:8080/cb",
    "--domain",
    "flix.example",
    "--scope",
    "profile share",
]


def candor(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with the server's settings given as environment variables only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env |= {
        "CANDOR_DATA_DIR": str(server.data_dir),
        "CANDOR_DATABASE_URL": server.database_url,
        "CANDOR_SERVER_NAME": "localhost",
    }
    return subprocess.run(
        [str(CANDOR), "partner", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=server.data_dir,
    )


def listed(server: ServerProcess) -> list[str]:
    r = httpx.get(f"{server.base_url}/_candor/v1/partners", timeout=10)
    assert r.status_code == 200, r.text
    return [p["client_id"] for p in r.json()["partners"]]


def test_create_approve_suspend_and_list_through_the_cli(server: ServerProcess) -> None:
    made = candor(server, "create", *FLIX, "--json")
    public = candor(server, "create", *FLIX, "--public", "--json")

    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert set(created) == {"client_id", "client_secret"}
    assert created["client_secret"].startswith("cdr_cs_")
    assert public.returncode == 0, public.stderr
    assert json.loads(public.stdout)["client_secret"] is None
    client_id = created["client_id"]
    assert listed(server) == []  # pending apps are not public

    approved = candor(server, "approve", client_id)
    assert approved.returncode == 0, approved.stderr
    assert "approved" in approved.stdout
    assert listed(server) == [client_id]

    table = candor(server, "list")
    assert table.returncode == 0, table.stderr
    assert client_id in table.stdout
    assert json.loads(public.stdout)["client_id"] in table.stdout
    assert "approved" in table.stdout
    assert "pending" in table.stdout

    suspended = candor(server, "suspend", client_id)
    assert suspended.returncode == 0, suspended.stderr
    assert "suspended" in suspended.stdout
    assert listed(server) == []
