"""`candor db`: schema migrations."""

import typer
from rich.console import Console

from candor.cli.common import DatabaseUrlOpt, DataDirOpt, ServerNameOpt, build_settings, err_console

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Bring the database schema to the latest version."""
    from candor.store.migrate import upgrade as run_upgrade

    settings = build_settings(data_dir, database_url, server_name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        run_upgrade(settings.sqlalchemy_url())
    except Exception as exc:
        err_console.print(f"[red]error:[/] migration failed: {exc}")
        raise typer.Exit(1) from None
    Console().print("database is at the latest schema")
