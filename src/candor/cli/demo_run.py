"""`candor demo`'s run: the whole story in one command, against a fresh data directory.

The server runs in this process (uvicorn as an asyncio task) with a clock the demo moves,
so two weeks of sharing, a biweekly report and its checks happen in well under a minute.
Each numbered step prints what it did and how long it took; any failure is one red line
and exit 1. The story itself is in `demo_story.py`.
"""

import asyncio
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from candor.app import create_app
from candor.cli.common import WIDE, err_console, listen
from candor.cli.demo_chat import NIO_MISSING
from candor.cli.demo_story import DEVELOPER, NAMES, Story
from candor.cli.demo_support import PASSWORD, DemoClock, DemoFailed
from candor.config import Settings, load_settings
from candor.reports.periods import last_complete
from candor.store.migrate import upgrade

T = TypeVar("T")
SERVER_NAME = "candor.localhost"


class Steps:
    """Numbered steps with a ✓ and the time each took."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.n = 0
        self.names: list[str] = []

    async def run(self, title: str, work: Callable[[], Awaitable[T]]) -> T:
        self.n += 1
        self.names.append(title)
        self.console.print(f"\n[bold cyan]{self.n:>2}.[/] [bold]{escape(title)}[/]")
        started = time.perf_counter()
        result = await work()
        took = time.perf_counter() - started
        self.console.print(f"   [green]✓[/] [dim]{took:.2f}s[/]")
        return result


def fresh_dir(data_dir: Path | None) -> Path:
    """A new temporary directory, or `data_dir` if it is new or empty (never reuse data)."""
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="candor-demo-"))
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise DemoFailed(f"--data-dir {data_dir} must be a new or empty directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


@asynccontextmanager
async def running(
    settings: Settings, clock: DemoClock, sock: socket.socket
) -> AsyncIterator[tuple[Story, "asyncio.Task[None]"]]:
    """Serve the app on the bound socket in this event loop until the block ends (the task
    ends by itself on Ctrl-C: uvicorn handles the signal)."""
    port: int = sock.getsockname()[1]
    app = create_app(settings, clock=clock)
    # The demo's httpx clients drop a connection idle for 5 s; uvicorn's default is to close
    # it after 5 s too, and a request sent on it as the server closed it failed with
    # ReadError (seen in CI, between two steps on a busy machine). Longer here, so the
    # client always lets go first.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="candor-demo-server")
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise DemoFailed(f"the server did not start on port {port}")
        if time.monotonic() > deadline:
            raise DemoFailed("the server did not start within 20s")
        await asyncio.sleep(0.02)
    today = datetime.now(UTC).date()
    story = Story(
        Console(),
        f"http://127.0.0.1:{port}",
        app.state.homeserver,
        app.state.services,
        clock,
        last_complete(today, 14),
        settings.data_dir,
    )
    try:
        yield story, task
    finally:
        server.should_exit = True
        await task


async def tour(settings: Settings, sock: socket.socket, keep_running: bool) -> list[str]:
    clock = DemoClock()
    console = Console()
    steps = Steps(console)
    started = time.perf_counter()
    async with running(settings, clock, sock) as (s, server):
        console.print(
            f"[bold]Candor demo[/] at {s.base_url}, data in {escape(str(settings.data_dir))}\n"
            f"the story runs over {s.period.start} … {s.period.end} "
            "(the server's clock is moved day by day)"
        )
        async with httpx.AsyncClient(base_url=s.base_url, timeout=30) as http:
            await steps.run("People register and log in", s.people_join)
            await steps.run("Operator registers and approves StreamFlix", s.register_partner)
            await steps.run("alice connects StreamFlix (OAuth consent)", lambda: s.oauth(http))
            groups, dms = await steps.run("Rooms: groups and DMs", s.rooms)
            await steps.run("Encrypted chat (matrix-nio, E2EE)", s.encrypted_chat)
            await steps.run(
                "14 days of recommendations: launcher shares and recipient clicks",
                lambda: s.fortnight(groups, dms),
            )
            await steps.run(
                "Inbox access to an unencrypted group: all-party consent",
                lambda: s.inbox_group(http),
            )
            await steps.run("Inbox access to an encrypted conversation", s.inbox_encrypted)
            await steps.run("Biweekly engagement report", s.report)
            await steps.run("Witness checks the transparency log", lambda: s.audit(http))
        for person in s.who.values():
            await person.aclose()
        console.print(
            f"\n[bold green]Done:[/] {len(steps.names)} steps in "
            f"{time.perf_counter() - started:.1f}s."
        )
        # At the panel's own width: a URL or command split at 80 columns is copied wrong.
        Console(width=WIDE).print(where_to_look(s.base_url, settings.data_dir, keep_running))
        if keep_running:
            console.print("[bold]Serving until Ctrl-C…[/]")
            await server
            console.print("stopped")
    return steps.names


def where_to_look(base: str, data_dir: Path, keep_running: bool) -> Panel:
    pages = [
        ("/login", f"log in as any of {', '.join(NAMES[:5])}, … (password “{PASSWORD}”)"),
        ("/privacy/accesses", "who accessed my data (bob, carol: StreamFlix's read)"),
        ("/privacy/grants", "shared conversations: the declined and the live grant"),
        ("/privacy/apps", "connected apps (alice: StreamFlix and its scopes)"),
        ("/privacy/shares", "what I shared and how it was counted"),
        ("/partners", "StreamFlix and its data-sharing agreement"),
        (
            "/partners/portal",
            f"the partner portal (log in as {DEVELOPER}: StreamFlix's reports, webhook, deliveries)",
        ),
    ]
    lines = [f"[link={base}{path}]{base}{path}[/link]  [dim]{what}[/]" for path, what in pages]
    lines.append(f"report files: {escape(str(data_dir / 'reports'))}")
    if not keep_running:
        lines.append(
            "[dim](the server has stopped: run `candor demo --keep-running` to browse, or "
            f"`candor serve --data-dir {escape(str(data_dir))} --server-name {SERVER_NAME}`)[/]"
        )
    return Panel("\n".join(lines), title="Where to look", expand=False)


def run(data_dir: Path | None, port: int | None, keep_running: bool) -> None:
    """`candor demo`'s body (see `demo.py`)."""
    if NIO_MISSING is not None:
        err_console.print(f"[red]error:[/] {escape(NIO_MISSING)}", soft_wrap=True)
        raise typer.Exit(1)
    # The port first: a busy one is one line (CliError) and leaves --data-dir untouched.
    sock = listen("127.0.0.1", port or 0)
    port = sock.getsockname()[1]
    try:
        directory = fresh_dir(data_dir)
        settings = load_settings(
            data_dir=directory,
            database_url=f"sqlite:///{directory / 'candor.db'}",
            server_name=SERVER_NAME,
            rate_limit={"enabled": False},
            # A demo runs on 127.0.0.1 for one person: let them try a webhook receiver there.
            webhooks={"allow_private_networks": True},
            # The links the demo's cards and notices carry point at the port it serves on.
            http={"host": "127.0.0.1", "port": port},
        )
        upgrade(settings.sqlalchemy_url())
        asyncio.run(tour(settings, sock, keep_running))
    except KeyboardInterrupt:
        Console().print("stopped")
    except Exception as exc:  # one red line, whatever broke
        message = str(exc) or type(exc).__name__
        err_console.print(f"[red]demo failed:[/] {escape(message)}", soft_wrap=True)
        raise typer.Exit(1) from None
