"""What a server that has only started keeps in memory (issue 17: idle RSS).

The heavy libraries that only some requests need (OpenDP and numpy for differentially
private reports, matplotlib and WeasyPrint for report charts and PDFs, Pillow for
thumbnails, the Redis client of shared rate limits) and the migration machinery (Alembic and Mako, run in a child by `serve`)
must not be imported by starting the server: each costs megabytes of resident memory in
every process. A fresh interpreter does what `candor serve` does before it listens
(settings, the migration, the app with its services) and lists what got imported, so a
module-level import that brings one back fails here, naming the chain that loaded it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Loaded on first use only; the reason for each is at its import.
LAZY = (
    "numpy",
    "opendp",
    "matplotlib",
    "weasyprint",
    "PIL",
    "alembic",
    "mako",
    "redis",  # shared rate limits and login back-off, only with rate_limit.storage_url
    "limits",
    # PostgreSQL's dialect and driver, on SQLite (`store.db.insert_on_conflict`)
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
    "jinja2",  # the web pages' and reports' templates (`web.templating`, `reports.render`)
)

PROBE = """
import builtins, json, pathlib, sys, traceback

watched = set(sys.argv[2].split(","))
first = {}
real_import = builtins.__import__

def tracing_import(name, globals=None, locals=None, fromlist=(), level=0):
    for mod in watched:
        if mod in first or mod in sys.modules:
            continue
        if name == mod or name.startswith(mod + "."):
            first[mod] = " > ".join(
                f"{f.filename.rsplit('/src/', 1)[-1]}:{f.lineno}"
                for f in traceback.extract_stack()[:-1]
                if "/candor/" in f.filename
            )
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = tracing_import

from candor.app import create_app
from candor.cli.common import build_settings, migrate_apart

settings = build_settings(pathlib.Path(sys.argv[1]), None, None)
migrate_apart(settings)
create_app(settings, freeze_heap=True, background=True)
loaded = {mod: first.get(mod, "?") for mod in watched if mod in sys.modules}
print(json.dumps(loaded))
"""


@pytest.mark.timeout(120)
def test_starting_the_server_imports_no_heavy_library(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parent.parent / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for name in list(env):
        if name.startswith("CANDOR_"):
            del env[name]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data"), ",".join(LAZY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {}, f"imported at start (module > ... > import): {loaded}"
