"""`candor user`: operator account management."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from candor.cli.common import (
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    run_service,
)

if TYPE_CHECKING:
    from candor.matrix.media.service import Purged
    from candor.wiring import Services

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


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

    async def work(services: Services) -> str:
        return await services.accounts.create_user(name, password, admin=admin)

    user_id = run_service(settings, work)
    Console().print(f"created {user_id}" + (" (admin)" if admin else ""))


@app.command("purge-media")
def purge_media(
    user_id: Annotated[str, typer.Argument(help="The account, e.g. @alice:example.org.")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Delete everything an account uploaded: its media ids, their thumbnails, and the
    files no other upload shares (for a deleted or deactivated account)."""
    settings = build_settings(data_dir, database_url, server_name)

    async def work(services: Services) -> Purged:
        return await services.media.purge_user(user_id)

    purged = run_service(settings, work)
    Console().print(
        f"purged {purged.media} media ids ({purged.bytes} bytes) of {user_id}; "
        f"{purged.files} files deleted"
    )
