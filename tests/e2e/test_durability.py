"""SIGKILL `candor serve` in the middle of a burst of concurrent sends, then restart it.

Eight devices of one user send sequentially and concurrently, each with its own txnIds
(the same txnId strings on every device: they are scoped per device). Once enough sends
have been acknowledged, the server is SIGKILLed. After a restart:

- every send that had returned 200 is in the room exactly once, with the acknowledged
  event id (a commit that was answered is durable);
- nothing that was never sent is there, and nothing is there twice;
- retrying every txnId that was attempted (answered or not) returns the acknowledged
  event id, or one event id stable across further retries, and leaves exactly one event
  per txnId (idempotency survives the restart).
"""

import asyncio
import signal
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

V3 = "/_matrix/client/v3"
WORKERS = 8
PER_WORKER = 80
KILL_AFTER = 120  # acknowledged sends before the SIGKILL
TIMEOUT = httpx.Timeout(15.0)

Key = tuple[int, int]  # (worker, n)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send_path(room_id: str, n: int) -> str:
    return f"{V3}/rooms/{room_id}/send/m.room.message/txn-{n}"


def content(w: int, n: int) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": f"w{w} n{n}", "w": w, "n": n}


async def setup_room(server: ServerProcess) -> tuple[str, list[str]]:
    """One user, WORKERS devices (logins), one room; returns the room and the tokens."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        r = await http.post(
            f"{V3}/register",
            json={
                "username": "writer",
                "password": "pw-writer-1",
                "auth": {"type": "m.login.dummy"},
            },
        )
        assert r.status_code == 200, r.text
        owner = r.json()["access_token"]
        r = await http.post(f"{V3}/createRoom", json={"name": "burst"}, headers=auth(owner))
        assert r.status_code == 200, r.text
        room_id: str = r.json()["room_id"]
        tokens = []
        for w in range(WORKERS):
            r = await http.post(
                f"{V3}/login",
                json={
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": "writer"},
                    "password": "pw-writer-1",
                    "device_id": f"DEV{w}",
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["device_id"] == f"DEV{w}"
            tokens.append(r.json()["access_token"])
        return room_id, tokens


async def all_messages(server: ServerProcess, token: str, room_id: str) -> dict[Key, list[str]]:
    """Every m.room.message in the room via /messages (full backwards paging)."""
    found: dict[Key, list[str]] = {}
    params: dict[str, Any] = {"dir": "b", "limit": 97}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:
        for _ in range(200):
            r = await http.get(f"{V3}/rooms/{room_id}/messages", params=params, headers=auth(token))
            assert r.status_code == 200, r.text
            body = r.json()
            for ev in body["chunk"]:
                if ev["type"] == "m.room.message":
                    key = (ev["content"]["w"], ev["content"]["n"])
                    found.setdefault(key, []).append(ev["event_id"])
            if "end" not in body or not body["chunk"]:
                return found
            params["from"] = body["end"]
    raise AssertionError("/messages did not run out after 200 pages")


async def test_sigkill_mid_burst_loses_no_acknowledged_send(server: ServerProcess) -> None:
    room_id, tokens = await setup_room(server)
    acked: dict[Key, str] = {}
    attempted: set[Key] = set()
    failures: list[str] = []
    enough = asyncio.Event()

    async def worker(w: int) -> None:
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=TIMEOUT, headers=auth(tokens[w])
        ) as http:
            for n in range(PER_WORKER):
                attempted.add((w, n))
                try:
                    r = await http.put(send_path(room_id, n), json=content(w, n))
                except httpx.TransportError:
                    return  # the server died under us: this send has no answer
                if r.status_code != 200:
                    failures.append(f"w{w} n{n}: {r.status_code} {r.text}")
                    return
                acked[(w, n)] = r.json()["event_id"]
                if len(acked) >= KILL_AFTER:
                    enough.set()

    tasks = [asyncio.create_task(worker(w)) for w in range(WORKERS)]
    try:
        await asyncio.wait_for(enough.wait(), timeout=60)
        server.kill(signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    finally:
        for t in tasks:
            t.cancel()
    assert not failures, failures
    unanswered = attempted - acked.keys()
    assert len(acked) >= KILL_AFTER
    assert unanswered, "the SIGKILL came after the burst: nothing was in flight"

    server.start()

    found = await all_messages(server, tokens[0], room_id)
    for key, event_id in acked.items():
        assert found.get(key) == [event_id], f"acknowledged send {key} -> {found.get(key)}"
    duplicated = {k: v for k, v in found.items() if len(v) != 1}
    assert not duplicated, duplicated
    assert found.keys() <= attempted, sorted(found.keys() - attempted)

    # Retry every attempted txnId on its own device (twice for the unanswered ones).
    retried: dict[Key, str] = {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT) as http:

        async def retry(key: Key) -> str:
            w, n = key
            r = await http.put(send_path(room_id, n), json=content(w, n), headers=auth(tokens[w]))
            assert r.status_code == 200, f"retry {key}: {r.status_code} {r.text}"
            event_id: str = r.json()["event_id"]
            return event_id

        for key in sorted(attempted):
            retried[key] = await retry(key)
        for key in sorted(unanswered):
            assert await retry(key) == retried[key], f"second retry of {key} made a new event"

    for key, event_id in acked.items():
        assert retried[key] == event_id, f"retry of acknowledged {key} got a new event id"
    for key in unanswered & found.keys():
        assert retried[key] == found[key][0], f"retry of committed-but-unanswered {key}"

    final = await all_messages(server, tokens[0], room_id)
    assert final.keys() == attempted
    assert {k: v for k, v in final.items() if v != [retried[k]]} == {}
