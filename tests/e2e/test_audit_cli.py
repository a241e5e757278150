"""`candor audit` against a real server.

Administrator reads (the log's first writer) grow the log; `candor audit verify` accepts
each new checkpoint and keeps its state; a state that remembers a larger tree (a smaller
tree presented later) or another key makes it fail; `candor audit check` passes on the
stored log and names an edited entry or tile.

On SQLite: that `audit` finds every kind of tampering on both engines is proved in-process
by tests/transparency/test_audit.py; this test is about the commands against a server.
"""

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from candor.transparency.note import generate_key
from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(120)]

CANDOR = Path(sys.executable).parent / "candor"
V3 = "/_matrix/client/v3"


def candor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CANDOR), *args], capture_output=True, text=True, timeout=60, check=False
    )


def db_args(server: ServerProcess) -> list[str]:
    return ["--data-dir", str(server.data_dir), "--database-url", server.database_url]


async def admin_reads(server: ServerProcess, count: int) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        r = await http.post(
            f"{V3}/login", json={"type": "m.login.password", "user": "root", "password": "pw-root"}
        )
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await http.post(
            f"{V3}/register",
            json={"username": f"u{count}", "password": "pw", "auth": {"type": "m.login.dummy"}},
        )
        user = {"Authorization": f"Bearer {r.json()['access_token']}"}
        room = (
            await http.post(f"{V3}/createRoom", json={"preset": "public_chat"}, headers=user)
        ).json()["room_id"]
        for i in range(count):
            r = await http.get(
                f"/_candor/admin/v1/rooms/{room}/messages",
                params={"justification": f"audit test {i}"},
                headers=admin,
            )
            assert r.status_code == 200, r.text
    await asyncio.sleep(1.5)  # the next checkpoint


async def tamper(server: ServerProcess, sqlite_sql: str, pg_sql: str) -> None:
    if server.engine == "sqlite":
        conn = sqlite3.connect(server.database_url.removeprefix("sqlite:///"))
        conn.execute(sqlite_sql)
        conn.commit()
        conn.close()
    else:
        pg = await asyncpg.connect(server.database_url)
        await pg.execute(pg_sql)
        await pg.close()


async def test_the_witness_follows_the_log_and_catches_rollbacks_and_other_keys(
    server: ServerProcess, tmp_path: Path
) -> None:
    made = candor("user", "create", "root", "--password", "pw-root", "--admin", *db_args(server))
    assert made.returncode == 0, made.stderr
    state = tmp_path / "witness.json"
    await admin_reads(server, 3)

    first = candor("audit", "verify", "--server", server.base_url, "--state", str(state))
    await admin_reads(server, 4)
    second = candor("audit", "verify", "--server", server.base_url, "--state", str(state))

    assert first.returncode == 0, first.stderr
    assert "size 3" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "size 7" in second.stdout
    assert "consistent" in second.stdout
    saved = json.loads(state.read_text())

    rollback = tmp_path / "rollback.json"
    rollback.write_text(json.dumps({**saved, "size": 9}))
    other_key = tmp_path / "other-key.json"
    other_key.write_text(
        json.dumps({**saved, "vkey": generate_key(saved["vkey"].split("+")[0])[1]})
    )
    for path, reason in ((rollback, "rollback"), (other_key, "key changed")):
        result = candor("audit", "verify", "--server", server.base_url, "--state", str(path))
        assert result.returncode == 1
        assert reason in result.stderr

    clean = candor("audit", "check", *db_args(server))
    assert clean.returncode == 0, clean.stderr
    assert "7 entries" in clean.stdout

    await tamper(
        server,
        # entry 2 in bundle 0 (after two entries of 2 + 32 bytes and its own length) → zeros
        "UPDATE tlog_bundles SET entries = CAST(substr(entries, 1, 70) || zeroblob(32) || "
        'substr(entries, 103) AS BLOB) WHERE "index" = 0',
        "UPDATE tlog_bundles SET entries = overlay(entries placing "
        "decode(repeat('00', 32), 'hex') from 71 for 32) WHERE \"index\" = 0",
    )
    edited_entry = candor("audit", "check", *db_args(server))
    await tamper(
        server,
        "UPDATE tlog_tiles SET hashes = CAST(X'00' || hashes AS BLOB) WHERE level = 0",
        "UPDATE tlog_tiles SET hashes = '\\x00'::bytea || hashes WHERE level = 0",
    )
    edited_tile = candor("audit", "check", *db_args(server))

    assert edited_entry.returncode == 1
    assert "entry 2" in edited_entry.stderr
    assert edited_tile.returncode == 1
    assert "tile 0/0" in edited_tile.stderr
