"""`candor audit`: check the transparency log, as a witness or as its operator."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from candor.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    database_problem,
    err_console,
    require_database,
)

if TYPE_CHECKING:
    import httpx

    from candor.transparency.audit import AuditReport

app = typer.Typer(help="Check the transparency log.", no_args_is_help=True)
API = "/_candor/transparency/v1"


def _fail(message: str) -> CliError:
    return CliError(message)


@app.command()
def verify(
    server: Annotated[str, typer.Option("--server", help="The Candor server's base URL.")],
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Where the witness keeps the last checkpoint it accepted."),
    ] = None,
) -> None:
    """Act as a witness: check the latest checkpoint's signature and that it extends the last
    one seen (kept in --state); exit 1 on a fork, a rollback or a bad signature."""
    import httpx

    from candor.transparency.witness import (
        WitnessError,
        WitnessState,
        accept,
        check_key,
        needs_proof,
        open_signed,
    )

    old: WitnessState | None = None
    if state is not None:
        _check_state_path(state)
    if state is not None and state.exists():
        try:
            old = WitnessState.from_json(json.loads(state.read_text()))
        except OSError as exc:
            raise _fail(f"cannot read --state {state}: {exc.strerror or exc}") from None
        except (ValueError, WitnessError) as exc:
            raise _fail(f"cannot read {state}: {exc}") from None
    try:
        with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
            vkey = _get(client, f"{API}/key").text.strip()
            note = _get(client, f"{API}/checkpoint").text
            new = open_signed(note, check_key(old, vkey))
            proof: list[bytes] | None = None
            if old is not None and needs_proof(old, new):
                body = _get(
                    client, f"{API}/proof/consistency", params={"from": old.size, "to": new.size}
                ).json()
                proof = [base64.b64decode(h) for h in body["hashes"]]
            accepted = accept(old, vkey, note, proof)
    except WitnessError as exc:
        raise _fail(str(exc)) from None
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise _fail(f"cannot fetch from {server}: {exc}") from None
    if state is not None:
        tmp = state.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(accepted.to_json(), indent=2) + "\n")
            tmp.replace(state)
        except OSError as exc:
            raise _fail(f"cannot write --state {state}: {exc.strerror or exc}") from None
    grown = "" if old is None else f" (was {old.size}, consistent)"
    Console().print(f"ok: checkpoint of size {accepted.size} verified{grown}")


def _check_state_path(state: Path) -> None:
    """Refuse a --state that can never be written before asking the server anything."""
    if state.is_dir():
        raise _fail(f"--state {state} is a directory, not a file")
    if not state.parent.is_dir():
        raise _fail(f"cannot write --state {state}: {state.parent} is not a directory")


def _get(client: httpx.Client, path: str, params: dict[str, int] | None = None) -> httpx.Response:
    """One transparency-log read; a page from anything else (a web server's HTML, a proxy's
    error) is named as such instead of being parsed as a key or a note."""
    from candor.transparency.witness import WitnessError

    response = client.get(path, params=params)
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200:
        said = "" if kind == "text/html" else f": {response.text[:200]}"
        raise WitnessError(
            f"{path} answered {response.status_code}{said} (is this a Candor server's base URL?)"
        )
    if kind not in ("text/plain", "application/json"):
        raise WitnessError(
            f"{path} answered {kind or 'no content type'}, not a transparency log "
            "(is this a Candor server's base URL?)"
        )
    return response


@app.command()
def check(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Operator side: recompute the whole tree from the stored entries and compare it with
    the stored tiles and checkpoints, reporting every row that differs."""
    from sqlalchemy.exc import SQLAlchemyError

    settings = build_settings(data_dir, database_url, server_name)
    require_database(settings)
    try:
        report = asyncio.run(_check(settings.sqlalchemy_url()))
    except (SQLAlchemyError, OSError) as exc:
        raise database_problem(exc, settings, "read") from None
    except (ValueError, TypeError, KeyError) as exc:  # an unreadable row is tampering too
        raise _fail(f"cannot read the log: {type(exc).__name__}: {str(exc)[:300]}") from None
    if not report.ok:
        for problem in report.problems:
            err_console.print(f"[red]tampered:[/] {escape(problem)}", soft_wrap=True)
        raise typer.Exit(1)
    Console().print(f"ok: {report.size} entries, tiles and checkpoints agree")


async def _check(url: str) -> AuditReport:
    from candor.store.db import Database
    from candor.transparency.audit import audit

    db = Database(url)
    try:
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task("recomputing the tree", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await audit(db, advance)
    finally:
        await db.dispose()
