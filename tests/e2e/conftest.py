"""A real `candor serve` process per test, on SQLite and on the real PostgreSQL.

The fixture picks a free port, makes a fresh data dir (and, for PostgreSQL, a fresh
database `candor_e2e_<random>` that is dropped afterwards; `@pytest.mark.engines` narrows
the engines as for `database_url`, see tests/conftest.py), starts the server and polls
`/health` for a bounded time. Tests can `kill()` it (SIGKILL by default), `start()` it
again on the same port and data, or `restart()` it gracefully. The process is always
terminated at teardown; its output is kept in `DATA_DIR/server.log` and shown on failure.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.databases import ENGINES, create_pg_database, drop_pg_database

CANDOR = Path(sys.executable).parent / "candor"
START_TIMEOUT_S = 30.0
ALLOW_PRIVATE_WEBHOOKS = "CANDOR_WEBHOOKS__ALLOW_PRIVATE_NETWORKS"
STOP_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """One `candor serve` process; `start`/`kill`/`restart` keep the port and the data."""

    port: int
    data_dir: Path
    database_url: str
    engine: str
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)  # extra settings for the next start
    args: list[str] = field(default_factory=list)  # extra `candor serve` arguments

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start #{self.starts} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [
                str(CANDOR),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
                "--server-name",
                "localhost",
                "--no-rate-limit",
                "--log-level",
                "warning",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=os.environ | self.env,
        )
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"candor serve exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.get(f"{self.base_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"candor serve not ready after {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` and wait (bounded) for the process to exit."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"server ignored signal {sig}:\n{self.log_tail()}") from None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), falling back to SIGKILL; safe to call twice."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(params=ENGINES)
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    """A running `candor serve` on a fresh database of each engine."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db_name: str | None = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{data_dir / 'candor.db'}"
    else:
        db_name = f"candor_e2e_{secrets.token_hex(6)}"
        database_url = await create_pg_database(db_name)
    srv = ServerProcess(_free_port(), data_dir, database_url, request.param)
    if request.node.get_closest_marker("loopback_webhooks") is not None:
        # The test's webhook receiver listens on 127.0.0.1: the operator allows it.
        srv.env[ALLOW_PRIVATE_WEBHOOKS] = "true"
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            sys.stderr.write(f"--- {srv.log_path} ---\n{srv.log_tail()}\n")
        if db_name is not None:
            await drop_pg_database(db_name)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item so the fixture can show the log on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def element(server: ServerProcess) -> Iterator[str]:
    """Element's URL, served on its own origin and pointed at the test's server (the
    Element tests skip, with the reason, when the bundle is absent)."""
    from tests.helpers.element import element_web  # noqa: PLC0415 - lazy: Element tests only
    from tests.helpers.element_ui import serve_element  # noqa: PLC0415 - lazy, as above

    with serve_element(element_web(), server.base_url) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless, for the browser tests."""
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
