"""`candor user`: operator account management."""

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from candor.app import build_homeserver
from candor.cli.common import DatabaseUrlOpt, DataDirOpt, ServerNameOpt, build_settings, err_console
from candor.config import Settings
from candor.core.errors import CandorError
from candor.matrix.accounts.service import AccountsService
from candor.store.migrate import upgrade

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


async def _create(settings: Settings, name: str, password: str, admin: bool) -> str:
    hs = build_homeserver(settings)
    try:
        return await AccountsService(hs).create_user(name, password, admin=admin)
    finally:
        await hs.db.dispose()


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Localpart, e.g. alice.")],
    password: Annotated[str, typer.Option("--password", help="The account's password.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="Make the account an administrator.")
    ] = False,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Create an account (registration need not be open)."""
    settings = build_settings(data_dir, database_url, server_name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.sqlalchemy_url())
    except Exception as exc:
        err_console.print(
            f"[red]error:[/] cannot prepare the database: {escape(str(exc))}", soft_wrap=True
        )
        raise typer.Exit(1) from None
    try:
        user_id = asyncio.run(_create(settings, name, password, admin))
    except CandorError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None
    Console().print(f"created {user_id}" + (" (admin)" if admin else ""))
