"""POST /search at scale: query latency over a large index, and what indexing costs a send.

Why: a search ranks and pages inside the database (FTS5's bm25 on SQLite, ts_rank over a
GIN-indexed tsvector on PostgreSQL) and restricts matches to the searcher's visible
ranges in the same query; this checks that it stays fast when a common word matches tens
of thousands of messages. It runs the real app in-process (httpx's ASGI transport):

1. Setup (not timed): registers a writer and a searcher, creates `--rooms` public rooms;
   the searcher joins every other one (so half the index is outside their rooms).
2. Load: `--messages` messages (default 1,000,000) of Zipf-distributed pseudo-words are
   written straight into `events` and `event_search` (SQLite: one sqlite3 transaction,
   the FTS5 triggers fill the index; PostgreSQL: COPY, the generated tsvector and GIN
   index fill themselves), and the stream position is advanced past them.
3. Queries: `--queries` searches per word class (common: ~1 % of messages, mid, rare) and
   order (rank, recent), each timed end to end (parse, query, count, events, JSON);
   p50/p99 per class and over all. Target: p50 < 50 ms at 1M on both engines.
4. Send cost (`--send N`, default 2000; 0 skips): N messages at concurrency 64 through
   PUT /send into a fresh room, with the search indexer as the persister has it and then
   with it removed from the persister's observers (this script only; the server has no
   switch), twice each, alternating. Reports msgs/s and p50 per run.

    .venv/bin/python bench/search.py --engine sqlite --messages 100000
    .venv/bin/python bench/search.py --engine postgresql --messages 1000000 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres

One JSON object on stdout; progress on stderr.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from candor.app.factory import create_app
from candor.config import Settings
from candor.matrix.search.indexer import SearchIndexer
from candor.store.migrate import upgrade

C = "/_matrix/client/v3"
WORDS = 20_000
CLASSES = {"common": (5, 30), "mid": (200, 400), "rare": (3000, 6000)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def vocabulary(rng: random.Random) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"]
    out: set[str] = set()
    while len(out) < WORDS:
        out.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def messages(rng: random.Random, words: list[str], count: int) -> list[str]:
    weights = [1 / (i + 1) for i in range(len(words))]
    cum = list(itertools.accumulate(weights))
    flat = rng.choices(words, cum_weights=cum, k=count * 10)
    out = []
    i = 0
    for _ in range(count):
        n = rng.randint(4, 16)
        out.append(" ".join(flat[i : i + n]))
        i += n
        if i + 16 > len(flat):
            i = 0
    return out


async def register(client: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    body = {"username": name, "password": "bench-pass-1", "auth": {"type": "m.login.dummy"}}
    r = await client.post(f"{C}/register", json=body)
    r.raise_for_status()
    return r.json()["user_id"], {"Authorization": f"Bearer {r.json()['access_token']}"}


def rows_for(
    start: int, bodies: list[str], rooms: list[str], sender: str, now_ms: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    events, index = [], []
    for i, body in enumerate(bodies):
        pos = start + i
        room = rooms[i % len(rooms)]
        content = json.dumps({"body": body, "msgtype": "m.text"}, separators=(",", ":"))
        events.append(
            (pos, f"$bench{pos}", room, "m.room.message", None, sender, now_ms, pos, None, content)
        )
        index.append((pos, room, sender, "m.room.message", "content.body", body))
    return events, index


EVENT_COLUMNS = [
    "stream_pos", "event_id", "room_id", "type", "state_key", "sender",
    "origin_server_ts", "depth", "prev_event_id", "content",
]  # fmt: skip
INDEX_COLUMNS = ["stream_pos", "room_id", "sender", "type", "key", "value"]
_INSERT_EVENTS = "INSERT INTO events ({}) VALUES ({})".format(  # noqa: S608 - constant column names
    ", ".join(EVENT_COLUMNS), ", ".join("?" * len(EVENT_COLUMNS))
)


def load_sqlite(path: Path, start: int, events: list[Any], index: list[Any]) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("BEGIN")
        db.executemany(
            _INSERT_EVENTS,
            events,
        )
        db.executemany("INSERT INTO event_search VALUES (?, ?, ?, ?, ?, ?)", index)
        db.execute(
            "UPDATE stream_positions SET position = ? WHERE name = 'events'",
            (start + len(events) - 1,),
        )
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()


async def load_pg(url: str, start: int, events: list[Any], index: list[Any]) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("events", records=events, columns=EVENT_COLUMNS)
            await conn.copy_records_to_table("event_search", records=index, columns=INDEX_COLUMNS)
            await conn.execute(
                "UPDATE stream_positions SET position = $1 WHERE name = 'events'",
                start + len(events) - 1,
            )
        # As autovacuum would: statistics, and the GIN pending list merged.
        await conn.execute("VACUUM ANALYZE events")
        await conn.execute("VACUUM ANALYZE event_search")
    finally:
        await conn.close()


def summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2),
        "n": len(samples),
    }


async def time_queries(
    client: httpx.AsyncClient, auth: dict[str, str], words: list[str], queries: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    everything: list[float] = []
    for order in ("rank", "recent"):
        for name, (lo, hi) in CLASSES.items():
            samples, counts = [], []
            for _ in range(queries):
                term = words[rng.randrange(lo, hi)]
                body = {
                    "search_categories": {"room_events": {"search_term": term, "order_by": order}}
                }
                t0 = time.perf_counter()
                r = await client.post(f"{C}/search", json=body, headers=auth)
                samples.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                counts.append(r.json()["search_categories"]["room_events"]["count"])
            everything += samples
            out[f"{order}_{name}"] = {**summary(samples), "median_count": statistics.median(counts)}
    out["all"] = summary(everything)
    return out


async def send_cost(
    app: Any, client: httpx.AsyncClient, auth: dict[str, str], count: int
) -> list[dict[str, Any]]:
    persister = app.state.homeserver.persister
    observers = persister._observers
    without = tuple(o for o in observers if not isinstance(o, SearchIndexer))
    r = await client.post(f"{C}/createRoom", json={"preset": "public_chat"}, headers=auth)
    room = r.json()["room_id"]
    rng = random.Random(7)
    runs = []
    for indexing in (True, False, True, False):
        persister._observers = observers if indexing else without
        bodies = iter(range(count))
        latencies: list[float] = []

        async def worker(bodies: Any = bodies, latencies: list[float] = latencies) -> None:
            for i in bodies:
                t0 = time.perf_counter()
                body = {"msgtype": "m.text", "body": f"send cost {i} {rng.random()}"}
                path = f"{C}/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}"
                resp = await client.put(path, json=body, headers=auth)
                resp.raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        elapsed = time.perf_counter() - t0
        runs.append({"indexing": indexing, "msgs_per_s": round(count / elapsed, 1),
                     **summary(latencies)})  # fmt: skip
        log(f"send cost: {runs[-1]}")
    persister._observers = observers
    return runs


async def run(args: argparse.Namespace, url: str, sqlite_path: Path | None, data: Path) -> Any:
    settings = Settings(
        data_dir=data,
        database_url=url,
        server_name="bench.local",
        rate_limit={"enabled": False},
        http={"public_base_url": "http://bench.local"},
    )
    rng = random.Random(args.seed)
    words = vocabulary(rng)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench.local", timeout=120
        ) as client:
            writer, wauth = await register(client, "writer")
            _, sauth = await register(client, "searcher")
            rooms = []
            for i in range(args.rooms):
                r = await client.post(
                    f"{C}/createRoom", json={"preset": "public_chat"}, headers=wauth
                )
                r.raise_for_status()
                rooms.append(r.json()["room_id"])
                if i % 2 == 0:
                    (
                        await client.post(f"{C}/join/{rooms[-1]}", json={}, headers=sauth)
                    ).raise_for_status()
            log(f"generating {args.messages} messages")
            bodies = messages(rng, words, args.messages)
            r = await client.get(f"{C}/sync", params={"timeout": 0}, headers=wauth)
            start = int(r.json()["next_batch"].split("_")[0].lstrip("s")) + 1
            events, index = rows_for(start, bodies, rooms, writer, int(time.time() * 1000))
            log("loading")
            t0 = time.perf_counter()
            if sqlite_path is not None:
                await asyncio.to_thread(load_sqlite, sqlite_path, start, events, index)
            else:
                await load_pg(url, start, events, index)
            load_s = round(time.perf_counter() - t0, 1)
            log(f"loaded in {load_s}s; timing queries")
            await time_queries(client, sauth, words, 3, seed=1)  # warm
            results = await time_queries(client, sauth, words, args.queries, seed=2)
            sends = await send_cost(app, client, wauth, args.send) if args.send else []
    return {"load_s": load_s, "search": results, "send_cost_c64": sends}


async def create_pg(base: str, name: str) -> str:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="a PostgreSQL URL to create the bench database from")  # fmt: skip
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--rooms", type=int, default=50)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--send", type=int, default=2000)
    p.add_argument("--seed", type=int, default=18)
    args = p.parse_args()
    os.environ.setdefault("CANDOR_PASSWORDS__TIME_COST", "1")
    os.environ.setdefault("CANDOR_PASSWORDS__MEMORY_COST_KIB", "8")
    tmp = Path(tempfile.mkdtemp(prefix="candor-search-bench-"))
    sqlite_path: Path | None = None
    if args.engine == "sqlite":
        sqlite_path = tmp / "candor.db"
        url = f"sqlite:///{sqlite_path}"
        upgrade(f"sqlite+aiosqlite:///{sqlite_path}")
    else:
        url = asyncio.run(create_pg(args.postgres, "candor_search_bench"))
        upgrade(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    out = asyncio.run(run(args, url, sqlite_path, tmp / "data"))
    out = {"engine": args.engine, "messages": args.messages, "rooms": args.rooms, **out}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
