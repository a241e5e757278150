"""What `candor serve` prints once it listens: the few commands a newcomer needs next.

Printed by the one serving process after its socket is bound (never before a failed
start, and once: `candor serve` runs a single process), on stdout so it stays apart from
the log. Short on purpose; the README and docs/web.md say the rest. Only Rich is imported
here: the settings arrive already built.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from candor.config import Settings


def program() -> str:
    """How to type `candor` again: plain `candor` when that is on the PATH, else the path
    it was started by (`make run` starts `.venv/bin/candor`, which is not on the PATH)."""
    invoked = sys.argv[0]
    if os.path.basename(invoked) != "candor" or not os.path.exists(invoked):
        return "candor"
    found = shutil.which("candor")
    if found is not None and os.path.samefile(found, invoked):
        return "candor"
    relative = os.path.relpath(invoked)
    return relative if not relative.startswith("..") else os.path.abspath(invoked)


def next_steps(settings: Settings, scope_flags: list[str]) -> list[str]:
    """The lines (Rich markup) to print. `scope_flags` are the `--data-dir`,
    `--database-url` and `--server-name` flags `serve` got, which `candor user create`
    needs too to reach the same accounts."""
    url = settings.http.base_url()
    candor = escape(shlex.quote(program()))
    scope = "".join(f" {shlex.quote(flag)}" for flag in scope_flags)
    create = candor + escape(f" user create NAME --password PASSWORD{scope}")
    lines = [
        f"[bold green]Candor is running at[/] [bold]{escape(url)}[/]  (Ctrl+C stops it)",
        f"  [bold]Get an account[/]  {create}",
    ]
    if settings.registration.enabled:
        lines.append(f"                  or sign up in the browser at {escape(url)}/register")
    lines += [
        "  [bold]Chat[/]            Element (https://app.element.io) or any Matrix app, "
        f"with the homeserver {escape(url)}",
        f"  [bold]Try the demo[/]    {candor} demo",
        f"  [bold]Another port[/]    {candor} serve --port 8080   (or CANDOR_HTTP__PORT=8080)",
    ]
    return lines


def print_next_steps(settings: Settings, scope_flags: list[str]) -> None:
    console = Console()
    for line in next_steps(settings, scope_flags):
        # soft_wrap: a URL or command is never split or cut at the terminal's width.
        console.print(line, soft_wrap=True, highlight=False)
    console.file.flush()
