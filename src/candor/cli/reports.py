"""`candor reports`: produce engagement reports, export them, and verify a signed one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from candor.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    err_console,
    print_table,
    read_service,
    run_service,
    table,
)
from candor.reports import render
from candor.reports.errors import ReportError
from candor.reports.periods import Period
from candor.reports.sign import SignatureInvalid, parse_json
from candor.reports.sign import verify as verify_signature
from candor.transparency.keys import KEY_FILE
from candor.transparency.note import NoteError, Signer, Verifier

if TYPE_CHECKING:
    from candor.partners.apps.service import App
    from candor.reports.service import StoredReport
    from candor.wiring import Services

app = typer.Typer(help="Engagement reports for partner apps.", no_args_is_help=True)
KEY_PATH = "/_candor/transparency/v1/key"


def _fail(message: str) -> CliError:
    return CliError(message)


def export_files(stored: StoredReport, out_dir: Path) -> list[Path]:
    """Write the report as JSON (+ .sig), CSV, HTML and PDF; the file names say the period."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = stored.document
    stem = f"{stored.client_id}_{stored.period.start}_{stored.period.end}"
    files = {
        f"{stem}.json": stored.body,
        f"{stem}.json.sig": (render_json(stored.signature)),
        f"{stem}.csv": render.to_csv(doc).encode(),
        f"{stem}.html": render.to_html(doc, stored.signature).encode(),
        f"{stem}.pdf": render.to_pdf(doc, stored.signature),
    }
    paths = []
    for name, data in files.items():
        path = out_dir / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def render_json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode() + b"\n"


@app.command()
def run(
    client_id: Annotated[
        str | None, typer.Option("--app", help="One app's client_id (default: every approved app).")
    ] = None,
    period_end: Annotated[
        str | None,
        typer.Option(
            "--period-end",
            help="Last day (UTC, YYYY-MM-DD) of the period (default: the last complete one).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write each report as JSON, .sig, CSV, HTML and PDF here."),
    ] = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Produce reports now (a period already produced is returned as it was, never twice)."""
    settings = build_settings(data_dir, database_url, server_name)
    end: date | None = None
    if period_end is not None:
        try:
            end = date.fromisoformat(period_end)
        except ValueError:
            raise _fail(f"--period-end must be a date (YYYY-MM-DD), not {period_end!r}") from None
        if end < EARLIEST:
            raise _fail(f"--period-end must be on or after {EARLIEST}, not {period_end}")
    _check_out_dir(out)

    async def work(services: Services) -> list[tuple[App, StoredReport | str]]:
        service = services.reports
        apps = (
            [await service.app(client_id)]
            if client_id is not None
            else await service.approved_apps()
        )
        results: list[tuple[App, StoredReport | str]] = []
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("producing reports", total=len(apps))
            for a in apps:
                progress.update(task, description=f"report for {escape(a.name)}")
                try:
                    stored = await service.produce(a.client_id, end)
                    if out is not None:
                        await asyncio.to_thread(export_files, stored, out)
                    results.append((a, stored))
                except ReportError as exc:
                    results.append((a, exc.message))
                progress.advance(task)
        return results

    results = run_service(settings, work)
    produced = table("app", "period", "report", "privacy", "rows")
    failed = False
    for a, r in results:
        if isinstance(r, str):
            failed = True
            err_console.print(f"[red]error:[/] {escape(a.name)}: {escape(r)}", soft_wrap=True)
        else:
            doc = r.document
            produced.add_row(
                escape(a.name),
                _period(r.period),
                r.report_id,
                r.privacy + (f" ε={r.epsilon:g}" if r.epsilon else ""),
                str(len(doc["rows"])),
            )
    if produced.row_count:
        print_table(produced)
    if not results:
        Console().print("no approved apps")
    if out is not None:
        Console().print(f"files in {escape(str(out))}")
    if failed:
        raise typer.Exit(1)


EARLIEST = date(1970, 1, 1)


def _check_out_dir(out: Path | None) -> None:
    """Refuse an --out that cannot be a directory before anything is produced."""
    if out is not None and out.exists() and not out.is_dir():
        raise _fail(f"--out {out} exists and is not a directory")


def _trusted_key(key: str | None, server: str | None, data_dir: Path | None) -> Verifier | None:
    import httpx

    if key is not None:
        try:
            return Verifier.parse(key.strip())
        except NoteError as exc:
            raise _fail(f"--key is not a verifier key (name+id+base64): {exc}") from None
    if server is not None:
        try:
            with httpx.Client(base_url=server.rstrip("/"), timeout=30) as client:
                resp = client.get(KEY_PATH)
                resp.raise_for_status()
                return Verifier.parse(resp.text.strip())
        except (httpx.HTTPError, NoteError) as exc:
            raise _fail(f"cannot get the server's key from {server}: {exc}") from None
    if data_dir is not None:
        path = data_dir / KEY_FILE
        if path.exists():
            try:
                return Signer.parse(path.read_text().strip()).verifier()
            except NoteError as exc:
                raise _fail(f"cannot read {path}: {exc}") from None
    return None


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A report's JSON file.")],
    signature: Annotated[
        Path | None, typer.Option("--signature", help="The signature file (default: FILE.sig).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The server's verifier key (name+id+base64) to pin."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Fetch the key to pin from this Candor server's URL."),
    ] = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Check a report against its detached signature; exit 1 if anything differs.

    The signing key is pinned by --key, --server, or (on the server itself) the data
    directory's key; with none of them, only the report's integrity is checked.
    """
    sig_path = signature or file.with_name(file.name + ".sig")
    try:
        report = parse_json(file.read_bytes(), str(file))
        sig = parse_json(sig_path.read_bytes(), str(sig_path))
    except OSError as exc:
        raise _fail(f"cannot read {exc.filename}: {exc.strerror}") from None
    except SignatureInvalid as exc:
        raise _fail(str(exc)) from None
    settings_dir = None
    if key is None and server is None:
        settings_dir = build_settings(data_dir, database_url, server_name).data_dir
    trusted = _trusted_key(key, server, settings_dir)
    try:
        signer = verify_signature(report, sig, trusted)
    except SignatureInvalid as exc:
        raise _fail(f"{file}: {exc}") from None
    out = Console()
    out.print(f"[green]OK[/] {escape(str(file))}: report {escape(str(report.get('report_id')))}")
    out.print(f"signed by {escape(str(signer))}", soft_wrap=True)
    if trusted is None:
        out.print(
            "[yellow]warning:[/] no key pinned (--key or --server): the report is intact, "
            "but this does not show who signed it"
        )


@app.command("list")
def list_reports(
    client_id: Annotated[str, typer.Option("--app", help="The app's client_id.")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """The app's reports, newest first."""
    settings = build_settings(data_dir, database_url, server_name)

    async def work(services: Services) -> list[StoredReport]:
        service = services.reports
        await service.app(client_id)
        return await service.list_for_app(client_id)

    listing = table("report", "period", "privacy", "rows")
    for r in read_service(settings, work):
        listing.add_row(r.report_id, _period(r.period), r.privacy, str(len(r.document["rows"])))
    print_table(listing)


@app.command()
def export(
    report_id: Annotated[str, typer.Argument(help="The report's id (rpt_…).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files to.")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Write one report as JSON (+ .sig), CSV, HTML and PDF."""
    settings = build_settings(data_dir, database_url, server_name)
    _check_out_dir(out)

    async def work(services: Services) -> list[Path]:
        stored = await services.reports.get(report_id)
        return await asyncio.to_thread(export_files, stored, out)

    for path in run_service(settings, work):
        Console().print(escape(str(path)))


def _period(p: Period) -> str:
    return f"{p.start} … {p.end}"
