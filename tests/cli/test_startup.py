"""`candor --help` must stay fast (issue 14: under 0.5 s): the CLI's modules import only Typer
and Rich at the top, and a command loads its machinery when it runs. Timing is machine
noise, so this checks the cause instead: which heavy packages merely importing the CLI loads.
"""

import subprocess
import sys

HEAVY = ("fastapi", "sqlalchemy", "alembic", "pydantic_settings", "opendp", "candor.wiring")


def test_importing_the_cli_loads_no_web_stack_database_or_services() -> None:
    probe = (
        f"import sys, candor.cli.main\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "", f"importing candor.cli.main loaded {loaded}"


def test_help_lists_every_command_group() -> None:
    probe = "import sys; from candor.cli.main import app; sys.argv = ['candor', '--help']; app()"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for group in ("serve", "demo", "user", "db", "audit", "partner", "reports"):
        assert group in out
