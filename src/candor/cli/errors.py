"""The CLI's one error type and its one handler: an operator's mistake is one line, exit 1.

A command (or a helper it calls) raises `CliError` for anything the operator can fix: a bad
path, a missing database, a busy port. `CandorGroup`, the root command's class, prints it
as one plain line on stderr and exits 1, for every subcommand and in `CliRunner` alike.
Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.core import Context  # Typer vendors click; its Group takes this one
from typer.core import TyperGroup

err_console = Console(stderr=True)


class CliError(Exception):
    """Something the operator can fix; the message names what and why, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def one_line(text: str) -> str:
    """Messages quoted from elsewhere (a driver, a server's body) may span lines."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def print_error(message: str) -> None:
    # soft_wrap: a path or URL split at 80 columns would be copied wrong.
    err_console.print(f"[red]error:[/] {escape(one_line(message))}", soft_wrap=True)


class CandorGroup(TyperGroup):
    """The root command: every subcommand runs inside its `invoke`, so one handler sees all."""

    def invoke(self, ctx: Context) -> Any:  # Any: whatever the command returns
        try:
            return super().invoke(ctx)
        except CliError as exc:
            print_error(exc.message)
            raise typer.Exit(1) from None
