"""Options every command shares, so each reads exactly the settings `serve` reads.

Only Typer and Rich are imported at the top of a CLI module: settings, the database, the
migrations and the services load when a command runs, so `candor --help` and a usage error
start in a fraction of a second (docs/architecture.md, "The CLI").
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from candor.cli.errors import CliError, err_console, one_line

if TYPE_CHECKING:
    from candor.config import Settings
    from candor.wiring import Services

__all__ = ["CliError", "err_console"]
T = TypeVar("T")
NOTHING_HERE = "nothing here"
WIDE = 10_000
CREATES_IT = "`candor serve` or `candor db upgrade` creates it"

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [env CANDOR_DATA_DIR; default ./candor-data]."),
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///FILE or postgresql://… [env CANDOR_DATABASE_URL; default SQLite at "
        "DATA_DIR/candor.db].",
    ),
]
ServerNameOpt = Annotated[
    str | None,
    typer.Option("--server-name", help="Server name [env CANDOR_SERVER_NAME; default localhost]."),
]


def build_settings(
    data_dir: Path | None,
    database_url: str | None,
    server_name: str | None,
    **extra: Any,  # Any: more settings overrides, which `load_settings` validates
) -> Settings:
    """CLI flags > env > candor.toml > defaults; a bad value is a usage error (exit 2), an
    unreadable candor.toml an error naming the file and line (exit 1)."""
    from tomllib import TOMLDecodeError

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
    except TOMLDecodeError as exc:  # before ValueError, which it is
        raise CliError(f"cannot read {Path('candor.toml').resolve()}: {exc}") from None
    except ValueError as exc:
        _usage_error(str(exc))
    return settings


def _usage_error(detail: str) -> NoReturn:
    """One line on stderr, no traceback, exit 2."""
    err_console.print(f"[red]error:[/] invalid configuration: {escape(detail)}", soft_wrap=True)
    raise typer.Exit(2) from None


def prepare_data_dir(path: Path) -> None:
    """Create the data dir (commands that write) and prove it takes files, naming the path
    and the reason when it does not (a file, under /proc, read-only, no permission)."""
    if path.exists() and not path.is_dir():
        raise CliError(f"data dir {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CliError(f"cannot use data dir {path}: {exc.strerror or exc}") from None


def database_problem(exc: BaseException, settings: Settings, doing: str = "prepare") -> CliError:
    """A database that cannot be opened, in one line; a missing PostgreSQL database says how
    to create it (SQLSTATE 3D000, wherever the driver put it in the chain)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.sqlalchemy_url())
    cause: BaseException | None = exc
    while cause is not None:
        if getattr(cause, "sqlstate", None) == "3D000":
            host, port, user = url.host or "localhost", url.port or 5432, url.username
            who = f" -U {user}" if user else ""
            return CliError(
                f"the PostgreSQL database {url.database} does not exist on {host}:{port}: "
                f"create it with `createdb -h {host} -p {port}{who} {url.database}`"
            )
        cause = getattr(cause, "orig", None) or cause.__cause__ or cause.__context__
    detail = one_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__
    return CliError(f"cannot {doing} the database {url.render_as_string()}: {detail}")


def migrate(settings: Settings) -> None:
    """The data dir and the schema, for `serve`, `db upgrade` and commands that write."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from candor.store.migrate import upgrade

    prepare_data_dir(settings.data_dir)
    try:
        upgrade(settings.sqlalchemy_url())
    except (SQLAlchemyError, OSError, CommandError) as exc:
        raise database_problem(exc, settings) from None


def migrate_apart(settings: Settings) -> None:
    """`migrate` in a forked child, for `serve`: Alembic, Mako and the migration scripts
    stay resident in any process that imports them (~15 MB), and a server needs them once,
    before it starts. The child's error comes back as this process's one line. Without
    `os.fork` (Windows), in this process."""
    if not hasattr(os, "fork"):
        migrate(settings)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        os.close(read_end)
        code = 1
        try:
            migrate(settings)
            code = 0
        except CliError as exc:
            os.write(write_end, exc.message.encode())
        except BaseException as exc:
            os.write(write_end, f"cannot prepare the database: {one_line(repr(exc))}".encode())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise CliError(message or f"the database migration ended with status {code}")


def require_database(settings: Settings) -> None:
    """Read-only commands: the database must exist at the current schema; nothing is created,
    migrated or generated, and an empty or missing data dir is "nothing here" (exit 1)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from candor.store.migrate import current_revision, head_revision

    url = settings.sqlalchemy_url()
    parsed = make_url(url)
    where = parsed.render_as_string()
    if parsed.get_backend_name() == "sqlite":
        where = parsed.database or ""
        if not Path(where).is_file():
            raise CliError(f"{NOTHING_HERE}: no database at {where} ({CREATES_IT})")
    try:
        current = asyncio.run(current_revision(url))
    except (SQLAlchemyError, OSError) as exc:
        raise database_problem(exc, settings, "open") from None
    if current is None:
        raise CliError(f"{NOTHING_HERE}: the database {where} has no Candor tables ({CREATES_IT})")
    head = head_revision()
    if current != head:
        raise CliError(
            f"the database {where} is at schema {current}, not {head}: run `candor db upgrade`"
        )


def run_service(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Prepare the database, run one service call, and turn errors into one line (exit 1).

    The composition root is imported here, not at the top: `candor --help` and a usage
    error never pay for loading the services."""
    migrate(settings)
    return _run(settings, work)


def read_service(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """`run_service` for read-only commands: no database, schema or key is created."""
    from candor.transparency.keys import KEY_FILE

    require_database(settings)
    needed = [KEY_FILE] + (["secret.key"] if settings.secret_key is None else [])
    for name in needed:
        if not (settings.data_dir / name).is_file():
            raise CliError(
                f"{NOTHING_HERE}: no {name} in {settings.data_dir} (`candor serve` makes it; "
                "is this the data dir the server runs with?)"
            )
    return _run(settings, work)


def _run(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    from candor.core.errors import CandorError
    from candor.wiring import build_homeserver, build_services

    async def main() -> T:
        hs = build_homeserver(settings)
        try:
            return await work(build_services(hs))
        finally:
            await hs.db.dispose()

    try:
        return asyncio.run(main())
    except CandorError as exc:
        raise CliError(exc.message) from None


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket before anything is created or migrated, so a busy port is one
    line and leaves nothing behind (uvicorn would log it among its start-up lines)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {port} on {host} is already in use: stop what listens there or "
                "choose another with --port"
            ) from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def table(*headers: str) -> Table:
    """A table whose cells are never cut or split: ids and paths are copied from it."""
    t = Table()
    for header in headers:
        t.add_column(header, no_wrap=True, overflow="ignore")
    return t


def print_table(t: Table) -> None:
    """Print at the table's full width, even past the terminal's (or 80 columns in a pipe):
    a long line the terminal wraps is still one line when copied."""
    Console(width=WIDE).print(t)  # the table is as wide as its content, never wider
