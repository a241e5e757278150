"""The `candor` command: one Typer root, one module per command group."""

import typer

from candor.cli import audit, db, demo, partner, reports, serve, user
from candor.cli.errors import CandorGroup

app = typer.Typer(
    name="candor",
    help="Candor: a Matrix homeserver whose private inboxes stay private.",
    no_args_is_help=True,
    cls=CandorGroup,
    pretty_exceptions_enable=False,
    # Plain help: Rich markup would swallow `[env …]` and `[default …]` and show `<bool>`.
    rich_markup_mode=None,
)
app.command("serve")(serve.serve)
app.command("demo", short_help="Run the whole story against a fresh server.")(demo.demo)
app.add_typer(user.app, name="user")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(partner.app, name="partner")
app.add_typer(reports.app, name="reports")
