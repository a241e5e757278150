"""`candor db`: schema migrations."""

import typer
from rich.console import Console

from candor.cli.common import DatabaseUrlOpt, DataDirOpt, ServerNameOpt, build_settings, migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Bring the database schema to the latest version."""
    migrate(build_settings(data_dir, database_url, server_name))
    Console().print("database is at the latest schema")
