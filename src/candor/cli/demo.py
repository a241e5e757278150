"""`candor demo`: the whole story in one command, against a fresh data directory.

Only the command's options live here: the run (`demo_run.py`, the story, matrix-nio) is
imported when the command runs, so every other `candor` command starts without it.
"""

from pathlib import Path
from typing import Annotated

import typer


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="A new or empty directory (default: a new temp dir)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Listen port on 127.0.0.1 (default: a free one).")
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Keep serving after the tour, until Ctrl-C.")
    ] = False,
) -> None:
    """Run the whole story against a fresh server: people, StreamFlix, encrypted chat,
    two weeks of shares and clicks, all-party inbox consent, the report and its checks."""
    # matrix-nio and the story cost about 0.5 s to import; only this command needs them.
    from candor.cli.demo_run import run

    run(data_dir, port, keep_running)
