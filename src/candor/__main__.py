"""`python -m candor` runs the CLI, so the server works without the console script."""

from candor.cli.main import app

app()
