"""`candor partner` against a running `candor serve`, configured only by the same
`CANDOR_*` variables: what the CLI creates, approves and suspends is what the server's
public list shows; bad input exits 1 with one line and changes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

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


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error:"), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


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


def test_human_output_shows_the_secret_once(server: ServerProcess) -> None:
    made = candor(server, "create", *FLIX)

    assert made.returncode == 0, made.stderr
    assert "client_id" in made.stdout
    assert "cdr_cs_" in made.stdout
    assert "shown once" in made.stdout


@pytest.mark.parametrize(
    ("change", "word"),
    [
        (["--redirect-uri", "http://flix.example/cb"], "https"),
        (["--redirect-uri", "https://flix.example/cb#x"], "fragment"),
        (["--domain", "not a domain"], "domain"),
        (["--scope", "profile everything"], "everything"),
        (["--retention-days", "0"], "retention"),
    ],
)
def test_bad_input_exits_1_with_one_line_and_writes_nothing(
    server: ServerProcess, change: list[str], word: str
) -> None:
    args = [*FLIX]
    flag = change[0]
    i = args.index(flag) if flag in args else len(args)
    args[i : i + 2] = change

    result = candor(server, "create", *args, "--json")

    one_line_error(result, word)
    assert result.stdout == ""
    listing = candor(server, "list")
    assert "app_" not in listing.stdout


def test_unknown_apps_exit_1(server: ServerProcess) -> None:
    for action in ("approve", "suspend"):
        one_line_error(candor(server, action, "app_nope"), "No such app")
