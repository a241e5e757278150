"""The `candor` command: one Typer root, one module per command group."""

import typer

from candor.cli import audit, db, demo, partner, reports, serve, user

app = typer.Typer(
    name="candor",
    help="Candor: a Matrix homeserver whose private inboxes stay private.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(user.app, name="user")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(partner.app, name="partner")
app.add_typer(reports.app, name="reports")
