"""Where the Element Web bundle for browser tests comes from, and the skip when it is absent.

Element is someone else's build, so it never goes into the repository. Tests that drive it
take it from `CANDOR_ELEMENT_WEB` (a built `element-web` folder, or the release `.tar.xz`)
or from `../shared/clients/` beside the clone, which this team's machines and CI have; with
neither they skip with a reason that says how to provide one.
"""

import contextlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CLIENTS = REPO_ROOT.parent / "shared" / "clients"
CACHE = Path(tempfile.gettempdir()) / "candor-element-web"
SKIP_REASON = (
    "Element Web bundle not found: set CANDOR_ELEMENT_WEB=/path/to/element-web "
    "(a build folder or its .tar.xz), or check out ../shared/clients beside the repository"
)


def find_element_web(env: Mapping[str, str], shared_clients: Path) -> Path | None:
    """The configured bundle (folder or archive), else the newest archive in shared/clients."""
    configured = env.get("CANDOR_ELEMENT_WEB")
    if configured:
        path = Path(configured)
        return path if path.exists() else None
    archives = sorted(shared_clients.glob("element-web-v*.tar.xz"))
    return archives[-1] if archives else None


def unpacked(bundle: Path, cache: Path) -> Path:
    """A folder holding Element's `index.html`; an archive is unpacked once into `cache`.

    Parallel test workers may race here: each unpacks into its own temporary folder and
    renames it into place, and a loser discards its copy, so no one reads a half-written tree.
    """
    if bundle.is_dir():
        return bundle
    target = cache / bundle.name.removesuffix(".tar.xz")
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=cache))
        with tarfile.open(bundle) as archive:
            archive.extractall(scratch, filter="data")
        inner = [p for p in scratch.iterdir() if p.is_dir()]
        root = inner[0] if len(inner) == 1 else scratch
        with contextlib.suppress(OSError):  # another worker won the race
            root.rename(target)
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def element_web() -> Path:
    """The unpacked Element Web build, or a skip with the reason (never a failure)."""
    bundle = find_element_web(os.environ, SHARED_CLIENTS)
    if bundle is None:
        pytest.skip(SKIP_REASON)
    return unpacked(bundle, CACHE)
