"""`candor partner`: register, approve and suspend partner apps, and publish new agreement
versions (operator side)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from candor.cli.common import (
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    print_table,
    read_service,
    run_service,
    table,
)
from candor.partners.apps.rules import DEFAULT_CONTRIBUTION_BOUND, AgreementTerms

if TYPE_CHECKING:
    from candor.partners.apps.service import App
    from candor.wiring import Services

app = typer.Typer(help="Manage partner apps.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="The app's name, as people will see it.")],
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="An exact OAuth redirect URI (repeat).")
    ],
    scope: Annotated[
        str, typer.Option("--scope", help='Scopes, space-separated: "profile share inbox.read".')
    ],
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", help="A web domain the app's links may use (repeat)."),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="A public client (no secret; PKCE only).")
    ] = False,
    homepage: Annotated[str | None, typer.Option("--homepage", help="The app's homepage.")] = None,
    contact: Annotated[str, typer.Option("--contact", help="Who to contact.")] = "unknown",
    purpose: Annotated[
        str, typer.Option("--purpose", help="The agreement's purpose, in plain words.")
    ] = "Not stated yet",
    data_used: Annotated[str, typer.Option("--data-used", help="The data the app uses.")] = (
        "What the scopes allow"
    ),
    retention_days: Annotated[
        int, typer.Option("--retention-days", help="Days the app may keep what it reads.")
    ] = 30,
    reporting_days: Annotated[
        int, typer.Option("--reporting-days", help="Days each engagement report covers.")
    ] = 14,
    privacy: Annotated[
        str,
        typer.Option(
            "--privacy", help="How reports protect people: k_anonymity or differential_privacy."
        ),
    ] = "k_anonymity",
    k: Annotated[
        int, typer.Option("--k", help="k_anonymity: withhold cells with fewer people.")
    ] = 10,
    epsilon: Annotated[
        float | None,
        typer.Option("--epsilon", help="differential_privacy: ε per report (0.01-10)."),
    ] = None,
    contribution_bound: Annotated[
        int,
        typer.Option(
            "--contribution-bound",
            help=(
                "differential_privacy: at most this many cards and this many clicks of each "
                "person count per report period (1-1000)."
            ),
        ),
    ] = DEFAULT_CONTRIBUTION_BOUND,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"client_id": …, "client_secret": …}.')
    ] = False,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Register an app. It starts pending: no token until `candor partner approve ID`."""
    settings = build_settings(data_dir, database_url, server_name)
    uris = list(redirect_uri)
    terms = AgreementTerms(
        purpose, data_used, retention_days, reporting_days, privacy, k, epsilon, contribution_bound
    )

    async def work(services: Services) -> tuple[App, str | None]:
        new = await services.apps.create(
            name=name,
            homepage=homepage or uris[0],
            contact=contact,
            redirect_uris=uris,
            domains=domain or [],
            scopes=scope,
            public=public,
            terms=terms,
            owner=None,
        )
        return new.app, new.client_secret

    created, secret = run_service(settings, work)
    if as_json:
        print(json.dumps({"client_id": created.client_id, "client_secret": secret}))  # noqa: T201 - machine output
        return
    out = Console()
    out.print(f"created [bold]{escape(created.name)}[/] ({created.status})")
    out.print(f"client_id     {created.client_id}")
    if secret is not None:
        # soft_wrap: a secret broken over two lines would be copied wrong.
        out.print(f"client_secret {secret}  [dim](shown once)[/]", soft_wrap=True)


def _status_command(action: str) -> Callable[..., None]:
    def command(
        client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
        data_dir: DataDirOpt = None,
        database_url: DatabaseUrlOpt = None,
        server_name: ServerNameOpt = None,
    ) -> None:
        settings = build_settings(data_dir, database_url, server_name)

        async def work(services: Services) -> App:
            service = services.apps
            return await (service.approve if action == "approve" else service.suspend)(client_id)

        changed = run_service(settings, work)
        Console().print(f"{escape(changed.name)} ({changed.client_id}) is {changed.status}")

    return command


app.command("approve", help="Approve a pending (or suspended) app: it may get tokens.")(
    _status_command("approve")
)
app.command("suspend", help="Suspend an app: all its tokens end at once.")(
    _status_command("suspend")
)


@app.command()
def agreement(
    client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
    purpose: Annotated[
        str, typer.Option("--purpose", help="The new version's purpose, in plain words.")
    ],
    data_used: Annotated[str, typer.Option("--data-used", help="The data the app uses.")],
    retention_days: Annotated[
        int | None, typer.Option("--retention-days", help="Default: the current version's.")
    ] = None,
    reporting_days: Annotated[
        int | None, typer.Option("--reporting-days", help="Default: the current version's.")
    ] = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Publish a new agreement version: everyone who consented is asked to consent again."""
    settings = build_settings(data_dir, database_url, server_name)

    async def work(services: Services) -> App:
        service = services.apps
        current = await service.get(client_id)
        terms = current.agreement.revised(purpose, data_used, retention_days, reporting_days)
        return await service.new_agreement(client_id, terms)

    changed = run_service(settings, work)
    Console().print(
        f"{escape(changed.name)} ({changed.client_id}) agreement is now version "
        f"{changed.agreement.version}; people who consented before will be asked again",
        soft_wrap=True,
    )


@app.command("list")
def list_apps(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Every registered app and its status."""
    settings = build_settings(data_dir, database_url, server_name)

    async def work(services: Services) -> list[App]:
        return await services.apps.list_all()

    listing = table("client_id", "name", "status", "scopes", "domains")
    for a in read_service(settings, work):
        listing.add_row(
            a.client_id, escape(a.name), a.status, " ".join(a.scopes), " ".join(a.domains)
        )
    print_table(listing)


@app.command()
def webhook(
    client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
    url: Annotated[
        str | None,
        typer.Option("--url", help="https URL (http only on loopback) for report deliveries."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the webhook.")] = False,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
) -> None:
    """Set the app's webhook URL and print its new signing secret (shown once), or --clear it."""
    if (url is None) == (not clear):
        raise typer.BadParameter("give either --url URL or --clear")
    settings = build_settings(data_dir, database_url, server_name)

    async def work(services: Services) -> str | None:
        return await services.report_views.set_webhook(None, client_id, None if clear else url)

    secret = run_service(settings, work)
    out = Console()
    if secret is None:
        out.print(f"webhook of {escape(client_id)} removed")
        return
    out.print(f"webhook of {escape(client_id)} is {escape(str(url))}")
    # soft_wrap: a secret broken over two lines would be copied wrong.
    out.print(f"signing secret {secret}  [dim](shown once)[/]", soft_wrap=True)
