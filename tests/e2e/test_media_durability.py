"""A media upload cut short by SIGKILL leaves nothing anyone is served; a finished one
survives the restart byte for byte.

A real `candor serve` (SQLite and PostgreSQL) receives a finished upload, then the first
half of a large one (to an id from /create, so there is an mxc:// URI to ask for), and
is SIGKILLed while that body is being written to its temporary file. After a restart:
the finished file downloads byte-identical; the interrupted id answers
M_NOT_YET_UPLOADED (no half file behind it), the store holds no file with the partial
content, the temporary file is gone (swept at start-up: no process holds its lock), and
the id can then be filled and served whole.
"""

import asyncio
import hashlib
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

V3 = "/_matrix/client/v3"
MEDIA = "/_matrix/media"
CLIENT_MEDIA = "/_matrix/client/v1/media"
TIMEOUT = httpx.Timeout(30.0)
BIG = 8 * 1024 * 1024
SENT_BEFORE_KILL = 3 * 1024 * 1024


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def store_files(data_dir: Path) -> list[Path]:
    root = data_dir / "media" / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def temporaries(data_dir: Path) -> list[Path]:
    tmp = data_dir / "media" / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


async def wait_for_partial_temporary(data_dir: Path, at_least: int) -> Path:
    """The temporary file the server is writing, once it holds `at_least` bytes."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in temporaries(data_dir):
            try:
                if path.stat().st_size >= at_least:
                    return path
            except FileNotFoundError:
                continue
        await asyncio.sleep(0.02)
    raise AssertionError(f"no temporary upload of {at_least} bytes appeared")


async def test_an_interrupted_upload_leaves_nothing_and_a_finished_one_survives(
    server: ServerProcess,
) -> None:
    finished = os.urandom(1024 * 1024 + 17)
    big = os.urandom(BIG)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        r = await http.post(
            f"{V3}/register",
            json={"username": "uploader", "password": "pw-up-1", "auth": {"type": "m.login.dummy"}},
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        r = await http.post(
            f"{MEDIA}/v3/upload",
            content=finished,
            params={"filename": "done.bin"},
            headers={**auth(token), "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text
        done_uri = r.json()["content_uri"]
        r = await http.post(f"{MEDIA}/v1/create", headers=auth(token))
        assert r.status_code == 200, r.text
        pending_uri = r.json()["content_uri"]
    server_name, pending_id = pending_uri.removeprefix("mxc://").split("/")

    # Half of the big body, on a raw connection, then the kill mid-write.
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        (
            f"PUT {MEDIA}/v3/upload/{server_name}/{pending_id} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Length: {BIG}\r\n\r\n"
        ).encode()
        + big[:SENT_BEFORE_KILL]
    )
    await writer.drain()
    partial = await wait_for_partial_temporary(server.data_dir, 1024 * 1024)
    server.kill(signal.SIGKILL)
    writer.close()
    assert partial.exists()  # left behind by the killed process ...

    server.start()
    assert not partial.exists()  # ... and swept at start-up
    assert temporaries(server.data_dir) == []
    files = store_files(server.data_dir)
    assert [p.name for p in files] == [hashlib.sha256(finished).hexdigest()]

    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        r = await http.get(
            f"{CLIENT_MEDIA}/download/{done_uri.removeprefix('mxc://')}", headers=auth(token)
        )
        assert r.status_code == 200
        assert r.content == finished
        assert r.headers["content-disposition"] == 'attachment; filename="done.bin"'

        r = await http.get(
            f"{CLIENT_MEDIA}/download/{server_name}/{pending_id}",
            params={"timeout_ms": 0},
            headers=auth(token),
        )
        assert r.status_code == 504
        assert r.json()["errcode"] == "M_NOT_YET_UPLOADED"

        # The interrupted id was never filled: the whole file can still go there.
        r = await http.put(
            f"{MEDIA}/v3/upload/{server_name}/{pending_id}",
            content=big,
            headers={**auth(token), "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text

    server.restart()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        r = await http.get(
            f"{CLIENT_MEDIA}/download/{server_name}/{pending_id}", headers=auth(token)
        )
        assert r.status_code == 200
        assert hashlib.sha256(r.content).digest() == hashlib.sha256(big).digest()
        r = await http.get(
            f"{CLIENT_MEDIA}/download/{done_uri.removeprefix('mxc://')}", headers=auth(token)
        )
        assert r.content == finished
    assert temporaries(server.data_dir) == []
