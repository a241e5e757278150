"""How a room's unread counts cost as its history and its threads grow (issue 18).

Why: `/sync` reads a room's counts afresh whenever it cannot carry them forward (an
initial sync, a receipt, a message of one's own). Per-thread counts must not make that
read grow with the room's history; they may grow with the threads a person has left
unread, up to `counting.MAX_THREADS`. This fills one room straight in the database (as
the send path would have recorded it) with H notifications, of which every 4th is a
reply in one of T threads (and as many rows of 50 other rooms from 211 senders, so the
table's statistics look like a server's), and times `count_unread` (the per-room statement of an
incremental /sync: `room_p50_ms`) and `count_unread_of_rooms` (the set-wise one of an
initial /sync, here of this one room: `rooms_p50_ms`) for two readers:

* `receipts`: an unthreaded receipt 50 of the room's events from the end (Element sends
  one through `/read_markers` as the main timeline is read);
* `threaded`: no unthreaded receipt at all, only `main` and per-thread ones (for half the
  threads), the worst case: every thread active since the join is looked at (the newest
  100 of them).

    .venv/bin/python bench/unread.py --engine sqlite --sizes 1000,100000 --threads 0,1000
    .venv/bin/python bench/unread.py --engine postgresql --sizes 1000,100000 --threads 0,1000

One JSON object goes to stdout; progress to stderr.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, text

from candor.matrix.push import counting
from candor.store.db import Database
from candor.store.migrate import upgrade
from candor.store.models.events import Event, Receipt
from candor.store.models.push import NotificationEvent, PushMembership
from candor.store.models.relations import EventThread
from candor.store.models.rooms import Room
from search import create_pg  # bench/search.py, beside this one

ROOM = "!bench:bench.local"
SENDER = "@alice:bench.local"
READERS = {"receipts": "@bob:bench.local", "threaded": "@carol:bench.local"}
PG_BASE = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "candor_unread_bench"
OTHER_ROOMS = 50


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _event(pos: int) -> dict[str, Any]:
    return {
        "stream_pos": pos,
        "event_id": f"$e{pos}",
        "room_id": ROOM,
        "type": "m.room.message",
        "state_key": None,
        "sender": SENDER,
        "origin_server_ts": pos,
        "depth": pos,
        "prev_event_id": None,
        "content": "{}",
        "redacts": None,
    }


async def fill(db: Database, size: int, threads: int) -> None:
    """The room's rows for a history of `size` notifications and `threads` threads."""
    async with db.write() as conn:
        for table in (NotificationEvent, EventThread, Receipt, Event, PushMembership, Room):
            await conn.execute(delete(table))
        rows: list[dict[str, Any]] = []
        latest: dict[str, int] = {}
        for pos in range(1, 2 * size + 1):
            # Every other row is another room's, from one of many senders: the table's
            # statistics then look like a server's (PostgreSQL's generic plans go by them).
            room, sender, thread = ROOM, SENDER, ""
            if pos % 2:
                room, sender = f"!other{pos % OTHER_ROOMS}:bench.local", f"@u{pos % 211}:b"
            elif threads and pos % 8 == 0:
                thread = f"$root{(pos // 8) % threads}"
                latest[thread] = pos
            rows.append(
                {
                    "stream_pos": pos,
                    "room_id": room,
                    "sender": sender,
                    "highlight": False,
                    "actions": "[]",
                    "thread_id": thread,
                }
            )
            if len(rows) == 5000:
                await conn.execute(insert(NotificationEvent), rows)
                rows = []
        if rows:
            await conn.execute(insert(NotificationEvent), rows)
        if latest:
            await conn.execute(
                insert(EventThread),
                [
                    {
                        "room_id": ROOM,
                        "root_event_id": root,
                        "latest_event_id": f"$e{pos}",
                        "latest_pos": pos,
                        "count": 1,
                    }
                    for root, pos in latest.items()
                ],
            )
        read_at = 2 * max(1, size - 50)
        await conn.execute(insert(Event), [_event(read_at)])
        receipts = [("receipts", "", read_at), ("threaded", "main", read_at)]
        receipts += [("threaded", root, read_at) for root in list(latest)[: threads // 2]]
        await conn.execute(
            insert(Receipt),
            [
                {
                    "room_id": ROOM,
                    "receipt_type": "m.read",
                    "user_id": READERS[who],
                    "thread_id": thread,
                    "event_id": f"$e{pos}",
                    "ts": 0,
                    "stream_pos": size + 1,
                }
                for who, thread, pos in receipts
            ],
        )
        await conn.execute(
            insert(PushMembership),
            [
                {"user_id": u, "room_id": ROOM, "joined_pos": 0, "left_pos": None}
                for u in READERS.values()
            ],
        )
        await conn.execute(
            insert(Room).values(room_id=ROOM, creator=SENDER, room_version="10", created_ts=0)
        )
    if db.url.startswith("postgresql"):
        async with db.write() as conn:
            await conn.execute(text("ANALYZE"))


async def timed(db: Database, user: str, reads: int, many: bool) -> tuple[float, Any]:
    times: list[float] = []
    found: Any = None
    async with db.read() as conn:
        for _ in range(reads):
            start = time.perf_counter()
            if many:
                found = await counting.count_unread_of_rooms(conn, [ROOM], user)
            else:
                found = await counting.count_unread(conn, ROOM, user)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), found


async def run(db: Database, sizes: list[int], threads: list[int], reads: int) -> list[Any]:
    out: list[Any] = []
    for t in threads:
        for size in sizes:
            log(f"filling {size} notifications, {t} threads")
            await fill(db, size, t)
            row: dict[str, Any] = {"history": size, "threads": t}
            for name, user in READERS.items():
                p50, unread = await timed(db, user, reads, many=False)
                many_p50, _ = await timed(db, user, reads, many=True)
                row[f"{name}_room_p50_ms"] = round(p50, 3)
                row[f"{name}_rooms_p50_ms"] = round(many_p50, 3)
                row[f"{name}_threads_with_unread"] = len(unread.threads)
                row[f"{name}_main_unread"] = unread.main[0]
            log(json.dumps(row))
            out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--sizes", default="1000,100000")
    p.add_argument("--threads", default="0,1000")
    p.add_argument("--reads", type=int, default=200)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        if args.engine == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'candor.db'}"
        else:
            url = asyncio.run(create_pg(PG_BASE, PG_NAME)).replace(
                "postgresql://", "postgresql+asyncpg://", 1
            )
        upgrade(url)
        db = Database(url)

        async def go() -> list[Any]:
            try:
                return await run(db, sizes, threads, args.reads)
            finally:
                await db.dispose()

        results = asyncio.run(go())
    print(json.dumps({"bench": "unread", "engine": args.engine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
