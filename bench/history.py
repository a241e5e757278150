"""How a page of `/messages` costs as a room's history grows, against any Matrix homeserver.

Why: the page itself is a bounded read, but the history-visibility check of each page reads
the reader's membership history and the room's visibility history; if that read walks the
room's events, a page in a room of 100k events costs far more than in one of 1k. This fills
one room in steps (`--sizes`), and after each step times `--pages` sequential requests for
the newest page of `--limit` events from a second member (so visibility is checked for
someone other than the sender), and as many for the oldest page (`dir=f` from the start:
a page deep in the history). With `--context` it also times, as many times each,
`/context` around the room's first message (its page before reaches the room's start, its
state is read at a position deep in the history) and around the newest, and
`/timestamp_to_event` forwards from that first message's time and backwards from now.
It prints one JSON object; progress goes to stderr.

With `--apart`, each size gets a room of its own, all filled first; then every request
is made once per room in turn, `--pages` rounds. So the rooms are compared in the same
server process and the same database (equally warm, equally large), and only the room's
own length differs: a room of 1k and one of 100k side by side, not one room measured
before and after the database grew a hundredfold.

    .venv/bin/candor serve --data-dir "$(mktemp -d)" --port 8030 --no-rate-limit &
    .venv/bin/python bench/history.py http://127.0.0.1:8030 --sizes 1000,10000,100000 --context
    .venv/bin/python bench/history.py http://127.0.0.1:8030 --sizes 1000,100000 --apart
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from typing import Any

import httpx

C = "/_matrix/client/v3"
C1 = "/_matrix/client/v1"


async def register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    body = {"username": name, "password": "bench-pass-1", "auth": {"type": "m.login.dummy"}}
    r = await client.post(f"{C}/register", json=body)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p90_ms": round(samples[int(len(samples) * 0.9)], 2),
    }


async def fill(
    client: httpx.AsyncClient, auth: dict[str, str], room: str, count: int, concurrency: int
) -> None:
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            path = f"{C}/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}"
            r = await client.put(path, json={"msgtype": "m.text", "body": "hi"}, headers=auth)
            r.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def time_pages(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    room: str,
    pages: int,
    limit: int,
    direction: str = "b",
) -> dict[str, float]:
    """`dir=b` without `from` is the newest page; `dir=f` without `from` the oldest."""
    samples = []
    for _ in range(pages):
        start = time.perf_counter()
        r = await client.get(
            f"{C}/rooms/{room}/messages",
            params={"dir": direction, "limit": limit},
            headers=auth,
        )
        samples.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
        if len(r.json()["chunk"]) != limit:
            raise SystemExit(f"a short page: {r.text[:200]}")
    return _summary(samples)


async def _timed(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, params: dict[str, int | str], n: int
) -> dict[str, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        r = await client.get(path, params=params, headers=auth)
        samples.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
    return _summary(samples)


async def first_and_newest(
    client: httpx.AsyncClient, auth: dict[str, str], room: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The room's first message and its newest event."""
    r = await client.get(
        f"{C}/rooms/{room}/messages",
        params={"dir": "f", "limit": 50, "filter": '{"types":["m.room.message"]}'},
        headers=auth,
    )
    r.raise_for_status()
    first = r.json()["chunk"][0]
    r = await client.get(f"{C}/rooms/{room}/messages", params={"limit": 1}, headers=auth)
    r.raise_for_status()
    return first, r.json()["chunk"][0]


async def time_context(
    client: httpx.AsyncClient, auth: dict[str, str], room: str, pages: int, limit: int
) -> dict[str, dict[str, float]]:
    """/context around the first and the newest message; /timestamp_to_event both ways."""
    first, newest = await first_and_newest(client, auth, room)
    params: dict[str, int | str] = {"limit": limit}
    ts_path = f"{C1}/rooms/{room}/timestamp_to_event"
    now_ms = int(time.time() * 1000)
    return {
        "context_first": await _timed(
            client, auth, f"{C}/rooms/{room}/context/{first['event_id']}", params, pages
        ),
        "context_newest": await _timed(
            client, auth, f"{C}/rooms/{room}/context/{newest['event_id']}", params, pages
        ),
        "ts_forward_from_first": await _timed(
            client, auth, ts_path, {"ts": first["origin_server_ts"], "dir": "f"}, pages
        ),
        "ts_backward_from_now": await _timed(
            client, auth, ts_path, {"ts": now_ms, "dir": "b"}, pages
        ),
    }


async def apart(
    client: httpx.AsyncClient,
    sender: dict[str, str],
    reader: dict[str, str],
    sizes: list[int],
    pages: int,
    limit: int,
    concurrency: int,
) -> dict[str, dict[str, float]]:
    """One room per size, then each request once per room in turn, `pages` rounds."""
    rooms: dict[int, str] = {}
    for size in sizes:
        r = await client.post(f"{C}/createRoom", json={"preset": "public_chat"}, headers=sender)
        r.raise_for_status()
        rooms[size] = room = r.json()["room_id"]
        (await client.post(f"{C}/join/{room}", json={}, headers=reader)).raise_for_status()
        print(f"filling a room to {size} events", file=sys.stderr)
        await fill(client, sender, room, size, concurrency)
    requests: dict[int, dict[str, tuple[str, dict[str, int | str]]]] = {}
    for size, room in rooms.items():
        first, newest = await first_and_newest(client, reader, room)
        ts_path = f"{C1}/rooms/{room}/timestamp_to_event"
        requests[size] = {
            "messages_newest": (f"{C}/rooms/{room}/messages", {"dir": "b", "limit": limit}),
            "messages_oldest": (f"{C}/rooms/{room}/messages", {"dir": "f", "limit": limit}),
            "context_first": (f"{C}/rooms/{room}/context/{first['event_id']}", {"limit": limit}),
            "context_newest": (f"{C}/rooms/{room}/context/{newest['event_id']}", {"limit": limit}),
            "ts_forward_from_first": (ts_path, {"ts": first["origin_server_ts"], "dir": "f"}),
            "ts_backward_from_now": (ts_path, {"ts": int(time.time() * 1000), "dir": "b"}),
        }
    samples: dict[str, list[float]] = {}
    for round_ in range(pages + 5):  # the first 5 rounds warm up and are not counted
        for size, named in requests.items():
            for name, (path, params) in named.items():
                start = time.perf_counter()
                r = await client.get(path, params=params, headers=reader)
                elapsed = (time.perf_counter() - start) * 1000
                r.raise_for_status()
                if round_ >= 5:
                    samples.setdefault(f"{size}_{name}", []).append(elapsed)
    return {key: _summary(values) for key, values in samples.items()}


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("--sizes", default="1000,10000,100000", help="history lengths to measure at")
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--label", default="")
    p.add_argument("--context", action="store_true", help="also time /context and timestamps")
    p.add_argument("--apart", action="store_true", help="a room per size, measured in turn")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    async with httpx.AsyncClient(base_url=args.url, timeout=60.0) as client:
        tag = uuid.uuid4().hex[:6]
        sender = await register(client, f"writer{tag}")
        reader = await register(client, f"reader{tag}")
        if args.apart:
            timings = await apart(
                client, sender, reader, sizes, args.pages, args.limit, args.concurrency
            )
            print(json.dumps({"server": args.url, "label": args.label, "apart": timings}))
            return
        r = await client.post(f"{C}/createRoom", json={"preset": "public_chat"}, headers=sender)
        r.raise_for_status()
        room = r.json()["room_id"]
        (await client.post(f"{C}/join/{room}", json={}, headers=reader)).raise_for_status()
        results: dict[str, dict[str, float]] = {}
        have = 0
        for size in sizes:
            print(f"filling to {size} events", file=sys.stderr)
            await fill(client, sender, room, size - have, args.concurrency)
            have = size
            await time_pages(client, reader, room, 5, args.limit)  # warm
            results[str(size)] = await time_pages(client, reader, room, args.pages, args.limit)
            oldest = await time_pages(client, reader, room, args.pages, args.limit, "f")
            results[f"{size}_oldest"] = oldest
            if args.context:
                for name, timing in (
                    await time_context(client, reader, room, args.pages, args.limit)
                ).items():
                    results[f"{size}_{name}"] = timing
    out = {"server": args.url, "label": args.label, "limit": args.limit, "pages": results}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
