"""The transparency log survives SIGKILL with appends in flight, on both engines.

Many administrator reads (each one an append) run at once; the server is killed while
they are in flight. After a restart, every read that was answered has its record in the
log, the tree is consistent with every checkpoint published before the crash, the
operator's audit passes, and appends continue where the log left off.
"""

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from candor.transparency.checkpoint import Checkpoint, open_checkpoint
from candor.transparency.merkle import verify_consistency
from candor.transparency.note import Verifier
from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

CANDOR = Path(sys.executable).parent / "candor"
V3 = "/_matrix/client/v3"
LOG = "/_candor/transparency/v1"


def candor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CANDOR), *args], capture_output=True, text=True, timeout=60, check=False
    )


async def login(http: httpx.AsyncClient, user: str, password: str) -> dict[str, str]:
    r = await http.post(
        f"{V3}/login", json={"type": "m.login.password", "user": user, "password": password}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def checkpoint(http: httpx.AsyncClient, verifier: Verifier) -> Checkpoint:
    return open_checkpoint((await http.get(f"{LOG}/checkpoint")).text, verifier)


async def test_acknowledged_appends_survive_sigkill(server: ServerProcess) -> None:
    db = ["--data-dir", str(server.data_dir), "--database-url", server.database_url]
    assert candor("user", "create", "root", "--password", "pw-root", "--admin", *db).returncode == 0
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        admin = await login(http, "root", "pw-root")
        r = await http.post(
            f"{V3}/register",
            json={"username": "alice", "password": "pw", "auth": {"type": "m.login.dummy"}},
        )
        alice = {"Authorization": f"Bearer {r.json()['access_token']}"}
        room = (
            await http.post(f"{V3}/createRoom", json={"preset": "public_chat"}, headers=alice)
        ).json()["room_id"]
        verifier = Verifier.parse((await http.get(f"{LOG}/key")).text.strip())
        seen: list[Checkpoint] = []
        acknowledged: list[int] = []
        enough = asyncio.Event()

        async def read(i: int) -> None:
            try:
                r = await http.get(
                    f"/_candor/admin/v1/rooms/{room}/messages",
                    params={"justification": f"crash test {i}"},
                    headers=admin,
                )
            except httpx.TransportError:
                return  # in flight when the server died: not acknowledged
            if r.status_code == 200:
                acknowledged.append(r.json()["log_index"])
                if len(acknowledged) >= 60:
                    enough.set()

        async def watch() -> None:
            while True:
                try:
                    seen.append(await checkpoint(http, verifier))
                except httpx.TransportError:
                    return
                await asyncio.sleep(0.3)

        watcher = asyncio.create_task(watch())
        readers = [asyncio.create_task(read(i)) for i in range(400)]
        await asyncio.wait_for(enough.wait(), 30)
        server.kill()
        await asyncio.gather(*readers)
        await watcher

    assert len(acknowledged) >= 60
    assert len(set(acknowledged)) == len(acknowledged)
    server.start()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        admin = await login(http, "root", "pw-root")
        alice = await login(http, "alice", "pw")
        records = (
            await http.get("/_candor/v1/me/accesses", params={"limit": 500}, headers=alice)
        ).json()
        stored = {a["index"] for a in records["accesses"]}
        assert set(acknowledged) <= stored

        r = await http.get(
            f"/_candor/admin/v1/rooms/{room}/messages",
            params={"justification": "after the crash"},
            headers=admin,
        )
        assert r.status_code == 200
        size_before = max(stored) + 1
        assert r.json()["log_index"] == size_before
        await asyncio.sleep(1.5)
        latest = await checkpoint(http, verifier)
        assert latest.size == size_before + 1
        for old in seen:
            if old.size == 0:
                continue
            body = (
                await http.get(
                    f"{LOG}/proof/consistency", params={"from": old.size, "to": latest.size}
                )
            ).json()
            proof = [base64.b64decode(h) for h in body["hashes"]]
            assert verify_consistency(old.size, latest.size, old.root_hash, latest.root_hash, proof)
    audit = candor("audit", "check", *db)
    assert audit.returncode == 0, audit.stderr
