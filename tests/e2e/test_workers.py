"""Several `candor serve` workers on one PostgreSQL database behave as one homeserver.

Two real server processes (ports A and B, one database, one data dir, as two machines
behind a load balancer would share them) and one `candor serve --workers 2`:

- matrix-nio clients on different workers exchange 100 messages each way, in order, and an
  encrypted chat works across them;
- a commit on one worker wakes a long-poll on the other within milliseconds (LISTEN/NOTIFY;
  the p50 is printed), typing crosses, and a token logged out on one is refused by the
  other within 100 ms;
- a worker whose listening connection is terminated reconnects and wakes its waiters, so
  a message committed while it was deaf still reaches them;
- SIGKILL of one worker in the middle of a burst loses no acknowledged send, and the
  other keeps serving;
- `--workers 2` serves one port from two processes, restarts a worker that was killed
  and stops cleanly on SIGTERM.
"""

import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from tests.e2e.conftest import ServerProcess, _free_port
from tests.helpers.databases import create_pg_database, drop_pg_database
from tests.helpers.nio import create_room, device_pool

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    # One pair of servers for the module: its tests must run on one xdist worker.
    pytest.mark.xdist_group("workers"),
]

V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"
TIMEOUT = httpx.Timeout(20.0)
N = 100


@dataclass
class Worker(ServerProcess):
    """A `candor serve` sharing its data dir with others: each keeps its own log file."""

    name: str = "worker"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"


@dataclass
class Pair:
    a: ServerProcess
    b: ServerProcess
    database_url: str


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    data_dir = tmp_path_factory.mktemp("workers")
    db_name = f"candor_e2e_{secrets.token_hex(6)}"
    url = asyncio.run(create_pg_database(db_name))
    a = Worker(_free_port(), data_dir, url, "postgresql", name="a")
    b = Worker(_free_port(), data_dir, url, "postgresql", name="b")
    try:
        a.start()  # migrates and creates the keys; b then finds them
        b.start()
        yield Pair(a, b, url)
    finally:
        for srv in (a, b):
            srv.stop()
            sys.stderr.write(f"--- {srv.log_path.name} ---\n{srv.log_tail(2000)}\n")
        asyncio.run(drop_pg_database(db_name))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unique(name: str) -> str:
    return f"{name}{secrets.token_hex(3)}"


async def register(base_url: str, name: str) -> tuple[str, str]:
    """(user id, access token) of a new account registered on the worker at `base_url`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        r = await http.post(
            f"{V3}/register",
            json={"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        assert r.status_code == 200, r.text
        return r.json()["user_id"], r.json()["access_token"]


async def shared_room(pair: Pair) -> tuple[str, str, str]:
    """alice (on A) and bob (on B) joined to one room: (room id, alice's, bob's token)."""
    _alice, alice_token = await register(pair.a.base_url, unique("alice"))
    bob, bob_token = await register(pair.b.base_url, unique("bob"))
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        r = await http.post(
            f"{pair.a.base_url}{V3}/createRoom",
            json={"invite": [bob], "preset": "private_chat"},
            headers=auth(alice_token),
        )
        assert r.status_code == 200, r.text
        room_id: str = r.json()["room_id"]
        r = await http.post(
            f"{pair.b.base_url}{V3}/rooms/{room_id}/join", json={}, headers=auth(bob_token)
        )
        assert r.status_code == 200, r.text
    return room_id, alice_token, bob_token


def long_poll(
    http: httpx.AsyncClient, base_url: str, token: str, since: str, timeout_ms: int
) -> "asyncio.Task[httpx.Response]":
    """A /sync long-poll on `base_url`, running while the test acts on the other worker."""
    return asyncio.create_task(
        http.get(
            f"{base_url}{V3}/sync",
            params={"since": since, "timeout": timeout_ms},
            headers=auth(token),
        )
    )


async def current_token(http: httpx.AsyncClient, base_url: str, token: str) -> str:
    r = await http.get(f"{base_url}{V3}/sync", params={"timeout": 0}, headers=auth(token))
    assert r.status_code == 200, r.text
    next_batch: str = r.json()["next_batch"]
    return next_batch


# --- nio clients on two workers ---------------------------------------------------------


@asynccontextmanager
async def nio_client(server: ServerProcess) -> AsyncIterator[AsyncClient]:
    config = AsyncClientConfig(
        max_timeouts=5, request_timeout=20, max_timeout_retry_wait_time=1, max_limit_exceeded=0
    )
    client = AsyncClient(server.base_url, "", config=config)
    try:
        yield client
    finally:
        await client.close()


async def test_nio_clients_on_two_workers_exchange_100_messages_each_way_in_order(
    pair: Pair,
) -> None:
    async with nio_client(pair.a) as alice, nio_client(pair.b) as bob:
        for client, name in ((alice, "alice"), (bob, "bob")):
            resp = await client.register(unique(name), PASSWORD)
            assert isinstance(resp, RegisterResponse), resp
        # A public room: this test is about order across workers, not encryption (below).
        created = await alice.room_create(invite=[bob.user_id], preset=RoomPreset.public_chat)
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        for client in (alice, bob):  # both start from here
            first = await client.sync(timeout=0, full_state=True)
            assert isinstance(first, SyncResponse), first

        async def send_all(sender: AsyncClient, name: str) -> list[str]:
            ids = []
            for i in range(N):
                resp = await sender.room_send(
                    room_id, "m.room.message", {"msgtype": "m.text", "body": f"{name} {i}"}
                )
                assert isinstance(resp, RoomSendResponse), resp
                ids.append(resp.event_id)
            return ids

        async def receive(client: AsyncClient) -> list[str]:
            deadline = time.monotonic() + 45
            seen: list[str] = []
            while len(seen) < 2 * N and time.monotonic() < deadline:
                resp = await client.sync(
                    timeout=1000, sync_filter={"room": {"timeline": {"limit": 1000}}}
                )
                assert isinstance(resp, SyncResponse), resp
                room = resp.rooms.join.get(room_id)
                if room is not None:
                    assert not room.timeline.limited
                    seen += [e.body for e in room.timeline.events if isinstance(e, RoomMessageText)]
            return seen

        sent_a, sent_b, got_alice, got_bob = await asyncio.gather(
            send_all(alice, "alice"), send_all(bob, "bob"), receive(alice), receive(bob)
        )
        assert len(set(sent_a + sent_b)) == 2 * N
        assert len(got_alice) == 2 * N
        assert got_alice == got_bob, "the two workers served different orders"
        for name in ("alice", "bob"):
            assert [b for b in got_alice if b.startswith(name)] == [f"{name} {i}" for i in range(N)]


async def test_encrypted_chat_across_workers(pair: Pair, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        device_pool(pair.a, tmp_path / "a") as on_a,
        device_pool(pair.b, tmp_path / "b") as on_b,
    ):
        alice = await on_a.register(unique("alice"))
        bob = await on_b.register(unique("bob"))
        room_id = await create_room(
            alice, [bob], is_direct=True, preset=RoomPreset.trusted_private_chat
        )
        await bob.join(room_id)
        assert bob.client.rooms[room_id].encrypted
        await alice.wait_for_join(room_id, bob.user_id)
        ids = []
        for i in range(3):
            for device, name in ((alice, "alice"), (bob, "bob")):
                ids.append(await device.send_text(room_id, f"{name} says {i}"))
        for device in (alice, bob):
            await device.wait_for_texts(room_id, ids)
            assert [e.body for e in device.texts(room_id) if e.event_id in ids] == [
                f"{n} says {i}" for i in range(3) for n in ("alice", "bob")
            ]


# --- wake-ups, typing and tokens across workers ------------------------------------------


async def test_a_send_on_one_worker_wakes_a_long_poll_on_the_other_fast(pair: Pair) -> None:
    room_id, alice_token, bob_token = await shared_room(pair)
    delays: list[float] = []
    sends: list[float] = []
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        since = await current_token(http, pair.b.base_url, bob_token)
        for i in range(30):
            poll = long_poll(http, pair.b.base_url, bob_token, since, 10_000)
            await asyncio.sleep(0.05)  # the long-poll is waiting on B
            start = time.perf_counter()
            r = await http.put(
                f"{pair.a.base_url}{V3}/rooms/{room_id}/send/m.room.message/t{i}",
                json={"msgtype": "m.text", "body": f"ping {i}"},
                headers=auth(alice_token),
            )
            assert r.status_code == 200, r.text
            sends.append(time.perf_counter() - start)
            woken = await poll
            delays.append(time.perf_counter() - start)
            assert woken.status_code == 200, woken.text
            events = woken.json()["rooms"]["join"][room_id]["timeline"]["events"]
            assert [e["content"]["body"] for e in events] == [f"ping {i}"]
            since = woken.json()["next_batch"]
    p50 = statistics.median(delays) * 1000
    send_p50 = statistics.median(sends) * 1000
    after_ack = statistics.median(d - s for d, s in zip(delays, sends, strict=True)) * 1000
    sys.stderr.write(
        f"cross-worker wake-up p50: send on A answered {send_p50:.1f} ms, long-poll on B "
        f"answered {p50:.1f} ms after the send began ({after_ack:.1f} ms after its answer)\n"
    )
    # Polling took ~90 ms at p50; a NOTIFY arrives at the commit, so the long-poll on B
    # answers about when the sender gets its own answer (both follow the one commit).
    assert after_ack < 40, sorted(delays)


async def test_typing_on_one_worker_appears_in_sync_on_the_other(pair: Pair) -> None:
    room_id, alice_token, bob_token = await shared_room(pair)
    alice = (await whoami(pair.a.base_url, alice_token))["user_id"]
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        since = await current_token(http, pair.b.base_url, bob_token)
        poll = long_poll(http, pair.b.base_url, bob_token, since, 10_000)
        await asyncio.sleep(0.05)
        r = await http.put(
            f"{pair.a.base_url}{V3}/rooms/{room_id}/typing/{alice}",
            json={"typing": True, "timeout": 30_000},
            headers=auth(alice_token),
        )
        assert r.status_code == 200, r.text
        woken = await asyncio.wait_for(poll, 5)
        ephemeral = woken.json()["rooms"]["join"][room_id]["ephemeral"]["events"]
        assert {"type": "m.typing", "content": {"user_ids": [alice]}} in [
            {"type": e["type"], "content": e["content"]} for e in ephemeral
        ]
        # The token B handed out, taken to A (no sticky sessions): nothing new to report.
        r = await http.get(
            f"{pair.a.base_url}{V3}/sync",
            params={"since": woken.json()["next_batch"], "timeout": 0},
            headers=auth(bob_token),
        )
        assert room_id not in r.json()["rooms"]["join"] or not r.json()["rooms"]["join"][
            room_id
        ].get("ephemeral", {}).get("events")


async def whoami(base_url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as http:
        r = await http.get(f"{V3}/account/whoami", headers=auth(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_token_logged_out_on_one_worker_is_refused_by_the_other_within_100ms(
    pair: Pair,
) -> None:
    _, token = await register(pair.a.base_url, unique("leaver"))
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        for _ in range(2):  # B has the token in its cache
            r = await http.get(f"{pair.b.base_url}{V3}/account/whoami", headers=auth(token))
            assert r.status_code == 200, r.text
        r = await http.post(f"{pair.a.base_url}{V3}/logout", json={}, headers=auth(token))
        assert r.status_code == 200, r.text
        logged_out = time.perf_counter()
        while True:
            r = await http.get(f"{pair.b.base_url}{V3}/account/whoami", headers=auth(token))
            elapsed = time.perf_counter() - logged_out
            if r.status_code == 401:
                assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"
                break
            assert elapsed < 0.1, "B still accepts a token logged out on A after 100 ms"
        sys.stderr.write(f"logout on A refused on B after {elapsed * 1000:.1f} ms\n")


async def listener_pids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'candor-listener'"
            " AND datname = current_database()"
        )
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


async def test_a_worker_whose_listener_is_cut_reconnects_and_misses_nothing(pair: Pair) -> None:
    room_id, alice_token, bob_token = await shared_room(pair)
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        since = await current_token(http, pair.b.base_url, bob_token)
        poll = long_poll(http, pair.b.base_url, bob_token, since, 15_000)
        await asyncio.sleep(0.05)
        pids = await listener_pids(pair.database_url)
        assert len(pids) == 2, pids
        conn = await asyncpg.connect(pair.database_url)
        try:
            # Every listener goes deaf; the send commits while they may still be.
            for pid in pids:
                await conn.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()
        start = time.perf_counter()
        r = await http.put(
            f"{pair.a.base_url}{V3}/rooms/{room_id}/send/m.room.message/deaf",
            json={"msgtype": "m.text", "body": "while deaf"},
            headers=auth(alice_token),
        )
        assert r.status_code == 200, r.text
        woken = await asyncio.wait_for(poll, 10)
        assert time.perf_counter() - start < 5, "woken by the long-poll's timeout, not a reset"
        events = woken.json()["rooms"]["join"][room_id]["timeline"]["events"]
        assert [e["content"]["body"] for e in events] == ["while deaf"]
        # Listening again: the next wake-up crosses as fast as before.
        for _ in range(50):
            if len(await listener_pids(pair.database_url)) == 2:
                break
            await asyncio.sleep(0.1)
        since = woken.json()["next_batch"]
        poll = long_poll(http, pair.b.base_url, bob_token, since, 15_000)
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        r = await http.put(
            f"{pair.a.base_url}{V3}/rooms/{room_id}/send/m.room.message/heard",
            json={"msgtype": "m.text", "body": "heard again"},
            headers=auth(alice_token),
        )
        woken = await asyncio.wait_for(poll, 10)
        assert time.perf_counter() - start < 1
        events = woken.json()["rooms"]["join"][room_id]["timeline"]["events"]
        assert [e["content"]["body"] for e in events] == ["heard again"]


async def test_an_upload_on_one_worker_wakes_a_download_waiting_on_the_other(pair: Pair) -> None:
    _, token = await register(pair.a.base_url, unique("uploader"))
    async with httpx.AsyncClient(timeout=TIMEOUT, headers=auth(token)) as http:
        r = await http.post(f"{pair.a.base_url}/_matrix/media/v1/create")
        assert r.status_code == 200, r.text
        server_name, media_id = r.json()["content_uri"].removeprefix("mxc://").split("/")
        download = asyncio.create_task(
            http.get(
                f"{pair.b.base_url}/_matrix/client/v1/media/download/{server_name}/{media_id}",
                params={"timeout_ms": 10_000},
            )
        )
        await asyncio.sleep(0.2)  # B has read the id and waits
        start = time.perf_counter()
        r = await http.put(
            f"{pair.a.base_url}/_matrix/media/v3/upload/{server_name}/{media_id}",
            content=b"hello from A",
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
        got = await asyncio.wait_for(download, 10)
        waited = time.perf_counter() - start
    assert got.status_code == 200, got.text
    assert got.content == b"hello from A"
    # Woken by A's message, not by the one-second poll that remains as a fallback.
    assert waited < 0.5, waited


# --- a worker dies ------------------------------------------------------------------------


async def test_sigkill_of_one_worker_mid_burst_loses_no_acknowledged_send(pair: Pair) -> None:
    room_id, alice_token, bob_token = await shared_room(pair)
    acked: dict[str, str] = {}  # body -> event id
    enough = asyncio.Event()

    async def sender(s: int) -> None:
        async with httpx.AsyncClient(
            base_url=pair.a.base_url, timeout=TIMEOUT, headers=auth(alice_token)
        ) as http:
            for n in range(200):
                body = f"s{s} n{n}"
                try:
                    r = await http.put(
                        f"{V3}/rooms/{room_id}/send/m.room.message/k{s}-{n}",
                        json={"msgtype": "m.text", "body": body},
                    )
                except httpx.TransportError:
                    return
                if r.status_code != 200:
                    return
                acked[body] = r.json()["event_id"]
                if len(acked) >= 60:
                    enough.set()

    senders = [asyncio.create_task(sender(s)) for s in range(6)]
    await asyncio.wait_for(enough.wait(), 30)
    pair.a.kill(signal.SIGKILL)
    await asyncio.gather(*senders)
    # The pair's last test: A stays down (the teardown stops what is left).
    # B keeps serving: it takes a send and has every acknowledged one.
    async with httpx.AsyncClient(base_url=pair.b.base_url, timeout=TIMEOUT) as http:
        r = await http.put(
            f"{V3}/rooms/{room_id}/send/m.room.message/after",
            json={"msgtype": "m.text", "body": "after the kill"},
            headers=auth(bob_token),
        )
        assert r.status_code == 200, r.text
        found: dict[str, str] = {}
        params: dict[str, Any] = {"dir": "b", "limit": 100}
        for _ in range(50):
            r = await http.get(
                f"{V3}/rooms/{room_id}/messages", params=params, headers=auth(bob_token)
            )
            assert r.status_code == 200, r.text
            page = r.json()
            for ev in page["chunk"]:
                if ev["type"] == "m.room.message":
                    found[ev["content"]["body"]] = ev["event_id"]
            if "end" not in page or not page["chunk"]:
                break
            params["from"] = page["end"]
    assert len(acked) >= 60
    missing = {body for body in acked if found.get(body) != acked[body]}
    assert not missing, f"{len(missing)} acknowledged sends lost: {sorted(missing)[:5]}"
    assert "after the kill" in found


# --- candor serve --workers 2 --------------------------------------------------------------


def children(pid: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return sorted(int(p) for p in out.split())


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ServerProcess]:
    db_name = f"candor_e2e_{secrets.token_hex(6)}"
    url = asyncio.run(create_pg_database(db_name))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = ServerProcess(_free_port(), data_dir, url, "postgresql", args=["--workers", "2"])
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        asyncio.run(drop_pg_database(db_name))


async def test_serve_workers_2_is_one_server_on_one_port(two_workers: ServerProcess) -> None:
    assert two_workers.proc is not None
    parent = two_workers.proc.pid
    workers = children(parent)
    assert len(workers) == 2, workers
    pair = Pair(two_workers, two_workers, two_workers.database_url)
    room_id, alice_token, bob_token = await shared_room(pair)
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        # Several connections: the kernel spreads them over both workers.
        for i in range(5):
            since = await current_token(http, two_workers.base_url, bob_token)
            async with httpx.AsyncClient(timeout=TIMEOUT) as other:
                poll = asyncio.create_task(
                    other.get(
                        f"{two_workers.base_url}{V3}/sync",
                        params={"since": since, "timeout": 10_000},
                        headers=auth(bob_token),
                    )
                )
                await asyncio.sleep(0.05)
                start = time.perf_counter()
                async with httpx.AsyncClient(timeout=TIMEOUT) as sender:
                    r = await sender.put(
                        f"{two_workers.base_url}{V3}/rooms/{room_id}/send/m.room.message/w{i}",
                        json={"msgtype": "m.text", "body": f"w {i}"},
                        headers=auth(alice_token),
                    )
                assert r.status_code == 200, r.text
                woken = await poll
                assert time.perf_counter() - start < 1
                assert woken.json()["rooms"]["join"][room_id]["timeline"]["events"]
        # A worker that dies is replaced; the port keeps answering meanwhile.
        os.kill(workers[0], signal.SIGKILL)
        for _ in range(20):
            # A new connection each time: a kept-alive one may have been the dead worker's.
            async with httpx.AsyncClient(timeout=TIMEOUT) as fresh:
                r = await fresh.get(f"{two_workers.base_url}/health")
            assert r.status_code == 200
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = children(parent)
            if len(now) == 2 and workers[0] not in now:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"no replacement worker: {children(parent)}")
    two_workers.proc.terminate()
    assert two_workers.proc.wait(timeout=15) == 0
    assert children(parent) == []
