"""`candor serve`: migrate the database, then run the HTTP server."""

import contextlib
import gc
import logging
import socket
from typing import Annotated

import typer

from candor.cli.common import (
    CliError,
    DatabaseUrlOpt,
    DataDirOpt,
    ServerNameOpt,
    build_settings,
    listen,
    migrate,
)
from candor.cli.next_steps import print_next_steps

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def serve(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    server_name: ServerNameOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Listen address [env CANDOR_HTTP__HOST; default 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port [env CANDOR_HTTP__PORT; default 8008].")
    ] = None,
    public_base_url: Annotated[
        str | None,
        typer.Option(
            help="URL people reach Candor at [env CANDOR_HTTP__PUBLIC_BASE_URL; default "
            "http://HOST:PORT]."
        ),
    ] = None,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Switch off rate limiting (benchmarks).")
    ] = False,
    log_level: Annotated[str, typer.Option(help=f"Log level: {', '.join(LOG_LEVELS)}.")] = "info",
) -> None:
    """Run the homeserver (migrates the database first)."""
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise CliError(f"unknown --log-level {log_level!r}: choose one of {', '.join(LOG_LEVELS)}")
    http: dict[str, object] = {}
    if host is not None:
        http["host"] = host
    if port is not None:
        http["port"] = port
    if public_base_url is not None:
        http["public_base_url"] = public_base_url
    extra: dict[str, object] = {}
    if http:
        extra["http"] = http
    if no_rate_limit:
        extra["rate_limit"] = {"enabled": False}
    settings = build_settings(data_dir, database_url, server_name, **extra)
    sock = listen(settings.http.host, settings.http.port)
    import uvicorn

    from candor.app import create_app

    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    migrate(settings)
    app = create_app(settings, freeze_heap=True, background=True)
    scope_flags: list[str] = []
    for flag, value in (
        ("--data-dir", data_dir),
        ("--database-url", database_url),
        ("--server-name", server_name),
    ):
        if value is not None:
            scope_flags += [flag, str(value)]

    class Server(uvicorn.Server):
        """uvicorn's server, which says what to do next once it listens (and only then:
        a port in use ends the start before this)."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print_next_steps(settings, scope_flags)

    # Everything built so far lives as long as the process: move it out of the garbage
    # collector's view, so full collections (the source of tail-latency pauses) stay short.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_level=level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    server = Server(config)
    # uvicorn handles the first Ctrl+C; a second one ends the run here, quietly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(1)
