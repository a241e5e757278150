"""`candor serve`: migrate the database, then run the HTTP server (one process or several).

With `--workers N` the parent binds the port, migrates and creates the keys once, then
forks N workers that each build their own app (engine, event loop, caches) and serve the
shared socket, as uvicorn's own multiprocess mode does; the kernel spreads connections
between them. The parent only supervises: it forwards SIGTERM/SIGINT, starts a new
worker in place of one that died, and exits when its workers have stopped. Workers on one
PostgreSQL database see each other's commits through LISTEN/NOTIFY
(`matrix/sync/cluster.py`); SQLite allows one writing process, so it refuses `--workers`.
"""

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Annotated, NoReturn

import typer

from candor.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    listen,
    migrate_apart,
)
from candor.cli.next_steps import print_next_steps

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
logger = logging.getLogger(__name__)

# A worker that ends this way never listened (a broken start): restarting it would loop.
_EXIT_NOT_STARTED = 3
# A worker that dies sooner than this after its start is restarted only after a pause.
_QUICK_DEATH_S = 5.0
_RESTART_PAUSE_S = 1.0
# How long a worker whose supervisor vanished may take to stop gracefully.
_ORPHAN_GRACE_S = 10.0
# glibc's mallopt parameter, and the size from which an allocation gets its own mapping.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 4 * 1024 * 1024


def serve(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Listen address [env CANDOR_HTTP__HOST; default 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port [env CANDOR_HTTP__PORT; default 8008].")
    ] = None,
    public_base_url: Annotated[
        str | None,
        typer.Option(
            help="URL people reach Candor at [env CANDOR_HTTP__PUBLIC_BASE_URL; default "
            "http://HOST:PORT]."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes serving the port (more than 1 needs PostgreSQL)."
        ),
    ] = 1,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Switch off rate limiting (benchmarks).")
    ] = False,
    log_level: Annotated[str, typer.Option(help=f"Log level: {', '.join(LOG_LEVELS)}.")] = "info",
) -> None:
    """Run the homeserver (migrates the database first)."""
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise CliError(f"unknown --log-level {log_level!r}: choose one of {', '.join(LOG_LEVELS)}")
    http: dict[str, object] = {}
    if host is not None:
        http["host"] = host
    if port is not None:
        http["port"] = port
    if public_base_url is not None:
        http["public_base_url"] = public_base_url
    extra: dict[str, object] = {}
    if http:
        extra["http"] = http
    if no_rate_limit:
        extra["rate_limit"] = {"enabled": False}
    settings = build_settings(data_dir, database_url, server_name, **extra)
    if workers > 1 and settings.sqlalchemy_url().startswith("sqlite"):
        raise CliError(
            f"--workers {workers} needs PostgreSQL: SQLite allows one process "
            "(use --database-url postgresql://… or run one worker)"
        )
    sock = listen(settings.http.host, settings.http.port)
    _return_large_blocks()
    # Loaded before any fork, so workers share these pages.
    import uvicorn

    from candor.app import create_app
    from candor.config import Settings
    from candor.transparency.keys import load_or_create_signer

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    migrate_apart(settings)
    scope_flags: list[str] = []
    for flag, value in (
        ("--data-dir", data_dir),
        ("--database-url", database_url),
        ("--server-name", server_name),
    ):
        if value is not None:
            scope_flags += [flag, str(value)]

    def run_worker(settings: Settings, banner: bool) -> bool:
        """Serve `sock` in this process until a signal stops it; False if it never started."""
        app = create_app(settings, freeze_heap=True, background=True)

        class Server(uvicorn.Server):
            """uvicorn's server, which says what to do next once it listens (and only then:
            a failed start ends before this)."""

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                if self.started and banner:
                    print_next_steps(settings, scope_flags)

        # Everything built so far lives as long as the process: move it out of the garbage
        # collector's view, so full collections (the source of tail-latency pauses) stay short.
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(
            app,
            host=settings.http.host,
            port=settings.http.port,
            log_level=level,
            access_log=False,
            loop="uvloop",
            http="httptools",
        )
        server = Server(config)
        # uvicorn handles the first Ctrl+C; a second one ends the run here, quietly.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        return bool(server.started)

    if workers == 1:
        if not run_worker(settings, banner=True):
            raise typer.Exit(1)
        return
    # Created once here: workers starting together must not each create a different key.
    settings.token_key()
    load_or_create_signer(settings.data_dir, settings.transparency_origin())

    def child(index: int, banner: bool) -> NoReturn:
        code = 0
        try:
            _follow_parent()
            code = 0 if run_worker(settings, banner) else _EXIT_NOT_STARTED
        except BaseException:
            logger.exception("worker %d failed", index)
            code = _EXIT_NOT_STARTED
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    if Supervisor(workers, child).run() != 0:
        raise typer.Exit(1)


def _return_large_blocks() -> None:
    """Make glibc give large freed blocks (argon2's 19 MiB per password hash) back at once.

    By default glibc maps a block of 128 KiB or more on its own and unmaps it when freed,
    but each such free raises that threshold to the block's size: from the second password
    hash on, every worker thread's 19 MiB stayed in its heap for good (measured: 110 MB
    after one registration, 129 MB after two, 149 MB after four parallel logins; issue 17).
    A fixed threshold turns that adjustment off. 4 MiB keeps smaller blocks (request
    bodies, JSON) in the heap. Only on glibc; elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def _follow_parent() -> None:
    """End this worker (gracefully) if the supervisor disappears, e.g. on SIGKILL: an orphan
    would keep serving the port with nobody to stop it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        # Long-polls can hold a graceful stop for their whole timeout: do not wait for them.
        time.sleep(_ORPHAN_GRACE_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


class Supervisor:
    """Starts N workers, restarts one that dies, and stops them all on SIGTERM/SIGINT."""

    def __init__(self, count: int, child: Callable[[int, bool], NoReturn]) -> None:
        self._count = count
        self._child = child
        self._children: dict[int, tuple[int, float]] = {}  # pid -> (index, start time)
        self._stopping = False

    def run(self) -> int:
        """0 after a requested stop, 1 if a worker could not start."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for index in range(self._count):
            self._spawn(index, banner=index == 0)
        failed = False
        while self._children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index, started = self._children.pop(pid, (-1, 0.0))
            if index < 0 or self._stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == _EXIT_NOT_STARTED:
                logger.error("worker %d could not start; stopping the others", index)
                failed = True
                self._stop(signal.SIGTERM, None)
                continue
            logger.warning("worker %d (pid %d) ended (%s); starting another", index, pid, code)
            if time.monotonic() - started < _QUICK_DEATH_S:
                time.sleep(_RESTART_PAUSE_S)
            if not self._stopping:
                self._spawn(index, banner=False)
        return 1 if failed else 0

    def _spawn(self, index: int, *, banner: bool) -> None:
        pid = os.fork()
        if pid == 0:
            # Its own process group: a Ctrl+C reaches the supervisor alone, which stops
            # each worker once (a second signal would make uvicorn drop open requests).
            os.setpgid(0, 0)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            self._child(index, banner)
        self._children[pid] = (index, time.monotonic())

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        """Forward a stop to every worker; a repeated one makes them drop open requests."""
        self._stopping = True
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
