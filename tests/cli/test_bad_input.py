"""The real `candor` executable, fed the bad inputs an operator meets (issue 16): each is one
line on stderr naming what is wrong, exit 1, no traceback. Read-only commands on an empty or
missing data dir say there is nothing there and create nothing. Output survives 80 columns.
"""

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers.databases import PG_ADMIN_URL

CANDOR = str(Path(sys.executable).with_name("candor"))


def candor(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `candor` in `cwd` with no CANDOR_* variable, as a pipe at 80 columns."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env["COLUMNS"] = "80"
    return subprocess.run(
        [CANDOR, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server that answers every path with a 200 HTML page (a wrong --server URL)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html>\n<html><body><h1>Welcome</h1>\n</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    assert_one_line(candor(tmp_path, "db", "upgrade", "--data-dir", "afile"), "afile", "is a file")


def test_a_data_dir_under_proc(tmp_path: Path) -> None:
    assert_one_line(
        candor(tmp_path, "db", "upgrade", "--data-dir", "/proc/candor-data"), "/proc/candor-data"
    )


def test_a_data_dir_that_is_not_writable(tmp_path: Path) -> None:
    # /proc/self exists and is a directory that takes no files, even for root.
    line = assert_one_line(
        candor(tmp_path, "user", "create", "alice", "--password", "pw", "--data-dir", "/proc/self"),
        "/proc/self",
    )
    assert "cannot use data dir" in line


@pytest.mark.parametrize("where", ["afile/state.json", "adir"])
def test_a_state_path_that_cannot_be_written(tmp_path: Path, html_server: str, where: str) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    assert_one_line(
        candor(tmp_path, "audit", "verify", "--server", html_server, "--state", where), where
    )


def test_an_unknown_log_level(tmp_path: Path) -> None:
    assert_one_line(candor(tmp_path, "serve", "--log-level", "loud"), "loud", "debug")
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_candor_toml_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "candor.toml").write_text('server_name = "example.org"\nthis is not toml\n')
    assert_one_line(candor(tmp_path, "partner", "list"), str(tmp_path / "candor.toml"), "line 2")


def test_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/candor_no_such_database"
    for command in (["db", "upgrade"], ["partner", "list"]):
        assert_one_line(
            candor(tmp_path, *command, "--database-url", url),
            "candor_no_such_database does not exist",
            "createdb",
        )


def test_serve_on_a_port_in_use(tmp_path: Path, busy_port: int) -> None:
    assert_one_line(
        candor(tmp_path, "serve", "--port", str(busy_port), "--data-dir", "d"),
        f"port {busy_port}",
        "already in use",
    )
    assert not (tmp_path / "d").exists()


def test_demo_on_a_port_in_use_leaves_its_data_dir_for_the_retry(
    tmp_path: Path, busy_port: int
) -> None:
    (tmp_path / "demo").mkdir()
    assert_one_line(
        candor(tmp_path, "demo", "--port", str(busy_port), "--data-dir", "demo"),
        f"port {busy_port}",
        "already in use",
    )
    assert list((tmp_path / "demo").iterdir()) == []


def test_a_server_url_that_answers_html(tmp_path: Path, html_server: str) -> None:
    line = assert_one_line(
        candor(tmp_path, "audit", "verify", "--server", html_server), "text/html"
    )
    assert "<" not in line


READ_ONLY = [
    ["partner", "list"],
    ["reports", "list", "--app", "app_x"],
    ["audit", "check"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
@pytest.mark.parametrize("state", ["empty", "missing"])
def test_read_only_commands_create_nothing(tmp_path: Path, command: list[str], state: str) -> None:
    data = tmp_path / "data"
    if state == "empty":
        data.mkdir()
    assert_one_line(candor(tmp_path, *command, "--data-dir", data), "nothing here")
    assert sorted(p.name for p in tmp_path.iterdir()) == (["data"] if state == "empty" else [])
    if state == "empty":
        assert list(data.iterdir()) == []


def test_reports_verify_reads_no_data_dir_it_does_not_find(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"report_id": "rpt_x"}')
    (tmp_path / "r.json.sig").write_text("{}")
    data = tmp_path / "data"
    data.mkdir()
    done = candor(tmp_path, "reports", "verify", "r.json", "--data-dir", data)
    assert_one_line(done)
    assert list(data.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "r.json", "r.json.sig"]


def test_help_keeps_brackets_names_defaults_and_shows_no_bool(tmp_path: Path) -> None:
    serve = candor(tmp_path, "serve", "--help").stdout
    assert "[env CANDOR_DATA_DIR; default ./candor-data]" in " ".join(serve.split())
    assert "default 8008" in serve
    assert "<bool>" not in serve
    create = candor(tmp_path, "partner", "create", "--help").stdout
    assert "Days the app may keep what it reads. [default: 30]" in " ".join(create.split())
    assert "<bool>" not in create


def test_listings_keep_long_ids_whole_at_80_columns(tmp_path: Path) -> None:
    name = "An app with a rather long name that would not fit in eighty columns"
    made = candor(
        tmp_path, "partner", "create", "--name", name, "--redirect-uri",
        "https://example.org/a/very/long/redirect/path/that/goes/on", "--scope",
        "profile share inbox.read", "--json", "--data-dir", "d",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    client_id = made.stdout.split('"client_id": "')[1].split('"')[0]
    listed = candor(tmp_path, "partner", "list", "--data-dir", "d")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if client_id in line)
    assert name in row
    assert "profile share inbox.read" in row
