"""How a page of `/relations` costs as a room (and the relations index) grows.

Why: a relations page should be one range of an index that starts with the parent, so
its cost must not depend on how many events, or how many other relations, the room holds.
This makes one parent with a fixed set of children (reactions, edits, thread replies),
then fills the room in steps (`--sizes`) with messages of which every `--related`-th is a
reaction to some other message (so the index grows with the room), and after each step
times `--pages` sequential requests for the parent's newest page of `--limit` children
(and of its `m.annotation` children), plus GET /event on the parent, whose bundled
aggregations are read for it. It prints one JSON object; progress goes to stderr.

    .venv/bin/candor serve --data-dir "$(mktemp -d)" --port 8031 --no-rate-limit &
    .venv/bin/python bench/relations.py http://127.0.0.1:8031 --sizes 1000,100000
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
V1 = "/_matrix/client/v1"


async def register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    body = {"username": name, "password": "bench-pass-1", "auth": {"type": "m.login.dummy"}}
    r = await client.post(f"{C}/register", json=body)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def send(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    room: str,
    content: dict[str, Any],
    ev_type: str = "m.room.message",
) -> str:
    path = f"{C}/rooms/{room}/send/{ev_type}/{uuid.uuid4().hex}"
    for attempt in range(3):  # the same transaction id: a retry cannot send twice
        try:
            r = await client.put(path, json=content, headers=auth)
            break
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if attempt == 2:
                raise
    r.raise_for_status()
    event_id: str = r.json()["event_id"]
    return event_id


def relation(rel_type: str, parent: str, **extra: Any) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


async def fill(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    room: str,
    count: int,
    concurrency: int,
    related: int,
) -> None:
    queue = iter(range(count))
    last: list[str] = []

    async def worker() -> None:
        for i in queue:
            if related and i % related == 0 and last:
                content = relation("m.annotation", last[-1], key=str(i % 7))
                await send(client, auth, room, content, "m.reaction")
            else:
                last.append(await send(client, auth, room, {"msgtype": "m.text", "body": "hi"}))
                del last[:-8]

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def timed(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, pages: int, params: dict[str, Any]
) -> dict[str, float]:
    samples = []
    for _ in range(pages):
        start = time.perf_counter()
        r = await client.get(path, params=params, headers=auth)
        samples.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p90_ms": round(samples[int(len(samples) * 0.9)], 2),
    }


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("--sizes", default="1000,100000", help="room lengths to measure at")
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--children", type=int, default=60, help="the parent's children")
    p.add_argument("--related", type=int, default=4, help="every n-th filler is a reaction")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--label", default="")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    async with httpx.AsyncClient(base_url=args.url, timeout=60.0) as client:
        tag = uuid.uuid4().hex[:6]
        sender = await register(client, f"writer{tag}")
        reader = await register(client, f"reader{tag}")
        r = await client.post(f"{C}/createRoom", json={"preset": "public_chat"}, headers=sender)
        r.raise_for_status()
        room = r.json()["room_id"]
        (await client.post(f"{C}/join/{room}", json={}, headers=reader)).raise_for_status()
        parent = await send(client, sender, room, {"msgtype": "m.text", "body": "parent"})
        for i in range(args.children):
            if i % 3 == 0:
                await send(
                    client, reader, room, relation("m.annotation", parent, key=str(i)), "m.reaction"
                )
            elif i % 3 == 1:
                body = {
                    "msgtype": "m.text",
                    "body": f"* e{i}",
                    "m.new_content": {"msgtype": "m.text", "body": f"e{i}"},
                }
                await send(client, sender, room, {**body, **relation("m.replace", parent)})
            else:
                await send(
                    client,
                    reader,
                    room,
                    {"msgtype": "m.text", "body": f"t{i}", **relation("m.thread", parent)},
                )
        have = args.children + 1
        results: dict[str, dict[str, float]] = {}
        page = {"limit": args.limit}
        for size in sizes:
            print(f"filling to {size} events", file=sys.stderr)
            await fill(client, sender, room, max(0, size - have), args.concurrency, args.related)
            have = size
            all_path = f"{V1}/rooms/{room}/relations/{parent}"
            await timed(client, reader, all_path, 5, page)  # warm
            results[f"{size}_relations"] = await timed(client, reader, all_path, args.pages, page)
            typed = f"{all_path}/m.annotation"
            results[f"{size}_annotations"] = await timed(client, reader, typed, args.pages, page)
            event = f"{C}/rooms/{room}/event/{parent}"
            results[f"{size}_event_bundled"] = await timed(client, reader, event, args.pages, {})
            print(json.dumps({str(size): results}), file=sys.stderr)
    out = {"server": args.url, "label": args.label, "limit": args.limit, "pages": results}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
