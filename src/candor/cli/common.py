"""Options every command shares, so each reads exactly the settings `serve` reads.

Only Typer and Rich are imported at the top of a CLI module: settings, the database, the
migrations and the services load when a command runs, so `candor --help` and a usage error
start in a fraction of a second (docs/architecture.md, "The CLI").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from candor.config import Settings
    from candor.wiring import Services

err_console = Console(stderr=True)
T = TypeVar("T")

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [env CANDOR_DATA_DIR].")
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="sqlite:///FILE or postgresql://… [env CANDOR_DATABASE_URL]."
    ),
]
ServerNameOpt = Annotated[
    str | None, typer.Option("--server-name", help="Server name [env CANDOR_SERVER_NAME].")
]


def build_settings(
    data_dir: Path | None,
    database_url: str | None,
    server_name: str | None,
    **extra: Any,  # Any: more settings overrides, which `load_settings` validates
) -> Settings:
    """CLI flags > env > candor.toml > defaults; a bad value is a usage error (exit 2)."""
    from pydantic import ValidationError

    from candor.config import load_settings

    try:
        settings = load_settings(
            data_dir=data_dir, database_url=database_url, server_name=server_name, **extra
        )
        settings.sqlalchemy_url()  # an unsupported database URL scheme is a usage error too
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        _usage_error(detail)
    except ValueError as exc:
        _usage_error(str(exc))
    return settings


def _usage_error(detail: str) -> NoReturn:
    """One line on stderr, no traceback, exit 2."""
    err_console.print(f"[red]error:[/] invalid configuration: {escape(detail)}", soft_wrap=True)
    raise typer.Exit(2) from None


def run_service(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Prepare the database, run one service call, and turn errors into one line (exit 1).

    The composition root is imported here, not at the top: `candor --help` and a usage
    error never pay for loading the services."""
    from candor.core.errors import CandorError
    from candor.store.migrate import upgrade
    from candor.wiring import build_homeserver, build_services

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.sqlalchemy_url())
    except Exception as exc:
        err_console.print(
            f"[red]error:[/] cannot prepare the database: {escape(str(exc))}", soft_wrap=True
        )
        raise typer.Exit(1) from None

    async def main() -> T:
        hs = build_homeserver(settings)
        try:
            return await work(build_services(hs))
        finally:
            await hs.db.dispose()

    try:
        return asyncio.run(main())
    except CandorError as exc:
        err_console.print(f"[red]error:[/] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(1) from None
