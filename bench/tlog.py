"""Transparency log benchmark: Candor's tiled log against pymerkle's SqliteTree, one run.

Both get the same leaves (32 random bytes each, the size of Candor's commitments),
appended in the same batches of `--batch` leaves with one durable commit per batch, and
are asked the same random proofs. Measured for Candor at each of `--sizes`:

* batched append throughput while growing to that size (entries, tiles, size: all persisted);
* inclusion and consistency proof time, p50/p99 over `--queries` random queries, both
  "warm" (the process that appended: its head and tile cache are filled) and "cold" (a new
  log object on the same database: empty cache, every proof starts with a query);
* checkpoint time (root + Ed25519 signature), which must not grow with the size;
* storage bytes per leaf (the database file after a WAL checkpoint, or PostgreSQL's
  relation sizes).

And once, on the grown log: single appends (one leaf per durable commit), and the latency
`record_access` adds to a request with 1 and with 100 concurrent appenders.

pymerkle 7.0 `SqliteTree` (install with `pip install -e '.[bench]'`) does the same up to
`--pymerkle-max` leaves; its roots are checked against Candor's (both are RFC 6962). The
JSON result goes to stdout, progress to stderr. Run it alone: the machine has 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text

from candor.app import freeze_startup_heap
from candor.core.clock import SystemClock
from candor.store.db import Database
from candor.store.migrate import upgrade
from candor.transparency.access import AccessLog
from candor.transparency.checkpoint import Checkpoint, sign_checkpoint
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree
from candor.transparency.note import Signer, generate_key
from candor.transparency.records import AccessAction, ActorKind

JsonDict = dict[str, Any]
LEAF = 32


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def batch_leaves(number: int, count: int) -> list[bytes]:
    """Batch `number`'s leaves: deterministic, so both libraries get the same ones."""
    raw = random.Random(number).randbytes(LEAF * count)
    return [raw[i : i + LEAF] for i in range(0, len(raw), LEAF)]


def percentiles(samples_s: list[float]) -> JsonDict:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50_ms": round(statistics.median(ms), 4),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
        "n": len(ms),
    }


async def timed_async(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


def timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


# --- Candor ------------------------------------------------------------------------------


async def storage_bytes(db: Database, path: Path | None) -> int:
    if path is not None:
        async with db.write() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    async with db.read() as conn:
        total = await conn.scalar(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relname IN ('tlog_bundles', 'tlog_tiles', 'tlog_size')"
            )
        )
    return int(total or 0)


async def proof_times(
    tlog: TransparencyLog, size: int, queries: int, rng: random.Random
) -> JsonDict:
    indices = [rng.randrange(size) for _ in range(queries)]
    olds = [rng.randint(1, size) for _ in range(queries)]
    inclusion = await timed_async([partial(tlog.inclusion_proof, i, size) for i in indices])
    consistency = await timed_async([partial(tlog.consistency_proof, o, size) for o in olds])
    return {"inclusion": percentiles(inclusion), "consistency": percentiles(consistency)}


async def candor_run(url: str, sqlite_path: Path | None, opts: argparse.Namespace) -> JsonDict:
    db = Database(url)
    tlog = TransparencyLog(db)
    await tlog.start()
    freeze_startup_heap()  # as `candor serve` does once started
    signer = Signer.parse(generate_key("bench.local/candor-log")[0])
    rng = random.Random(7)
    out: JsonDict = {"sizes": {}}
    grown = 0
    number = 0
    append_time = 0.0
    for size in opts.sizes:
        log(f"candor: growing to {size:,} leaves")
        while grown < size:
            count = min(opts.batch, size - grown)
            leaves = batch_leaves(number, count)
            start = time.perf_counter()
            await tlog.append_many(leaves)
            append_time += time.perf_counter() - start
            grown += count
            number += 1
        row: JsonDict = {"append_leaves_per_s_cumulative": round(grown / append_time)}
        log(f"candor: {size:,} leaves at {row['append_leaves_per_s_cumulative']:,}/s; proofs")
        row["warm"] = await proof_times(tlog, size, opts.queries, rng)
        cold_log = TransparencyLog(db)
        row["cold"] = await proof_times(cold_log, size, opts.queries, rng)

        async def checkpoint(size: int = size) -> None:
            root = await tlog.root(size)
            sign_checkpoint(Checkpoint(signer.name, size, root), signer)

        row["checkpoint"] = percentiles(await timed_async([checkpoint] * 200))
        row["root"] = (await tlog.root(size)).hex()
        row["bytes_per_leaf"] = round(await storage_bytes(db, sqlite_path) / size, 1)
        out["sizes"][str(size)] = row

    log("candor: single appends")
    singles = await timed_async(
        [partial(tlog.append, leaf) for leaf in batch_leaves(10**9, opts.singles)]
    )
    out["single_append"] = {
        **percentiles(singles),
        "appends_per_s": round(len(singles) / sum(singles)),
    }
    out["record_access"] = {
        str(n): await record_access_latency(db, tlog, n, opts.record_calls) for n in (1, 100)
    }
    await tlog.stop()
    await db.dispose()
    return out


async def record_access_latency(
    db: Database, tlog: TransparencyLog, concurrent: int, calls: int
) -> JsonDict:
    """What `record_access` adds to a request: its own latency, with N appenders at once."""
    log(f"candor: record_access with {concurrent} concurrent appenders")
    access = AccessLog(db, tlog, SystemClock())
    samples: list[float] = []

    async def appender(worker: int) -> None:
        for k in range(max(1, calls // concurrent)):
            start = time.perf_counter()
            await access.record_access(
                actor_kind=ActorKind.PARTNER_APP,
                actor_id=f"app-{worker}",
                basis=f"grant-{worker}-{k}",
                subjects=[f"@u{worker}:bench.local", f"@v{k}:bench.local"],
                resource={"room_id": "!room:bench.local", "from": k, "to": k + 50},
                action=AccessAction.ADMIN_READ_MESSAGES,
            )
            samples.append(time.perf_counter() - start)

    wall = time.perf_counter()
    await asyncio.gather(*(appender(w) for w in range(concurrent)))
    wall = time.perf_counter() - wall
    return {**percentiles(samples), "records_per_s": round(len(samples) / wall)}


# --- pymerkle ----------------------------------------------------------------------------


def pymerkle_run(workdir: Path, opts: argparse.Namespace) -> JsonDict:
    try:
        from pymerkle import SqliteTree  # noqa: PLC0415 - optional (the bench extra)
    except ImportError:
        return {"skipped": "pymerkle is not installed (pip install -e '.[bench]')"}
    import pymerkle  # noqa: PLC0415 - optional, for its version only

    path = workdir / "pymerkle.db"
    tree = SqliteTree(str(path))
    rng = random.Random(7)
    out: JsonDict = {"version": pymerkle.__version__, "sizes": {}}
    grown = 0
    number = 0
    append_time = 0.0
    for size in [s for s in opts.sizes if s <= opts.pymerkle_max]:
        log(f"pymerkle: growing to {size:,} leaves")
        while grown < size:
            count = min(opts.batch, size - grown)
            leaves = batch_leaves(number, count)
            start = time.perf_counter()
            tree.append_entries(leaves)
            append_time += time.perf_counter() - start
            grown += count
            number += 1
        row: JsonDict = {"append_leaves_per_s_cumulative": round(grown / append_time)}
        row["root_s"] = round(timed([partial(tree.get_root, size)])[0], 4)
        row["root"] = tree.get_root(size).hex()
        queries = min(opts.queries, opts.pymerkle_queries)
        log(f"pymerkle: {size:,} leaves at {row['append_leaves_per_s_cumulative']:,}/s; proofs")
        indices = [rng.randrange(size) for _ in range(queries)]
        olds = [rng.randint(1, size) for _ in range(queries)]
        row["inclusion"] = percentiles(
            timed([partial(tree.prove_inclusion, i + 1, size) for i in indices])
        )
        row["consistency"] = percentiles(
            timed([partial(tree.prove_consistency, o, size) for o in olds])
        )
        row["bytes_per_leaf"] = round(path.stat().st_size / size, 1)
        out["sizes"][str(size)] = row
    singles = timed(
        [partial(tree.append_entry, leaf) for leaf in batch_leaves(10**9, opts.singles)]
    )
    out["single_append"] = {
        **percentiles(singles),
        "appends_per_s": round(len(singles) / sum(singles)),
    }
    tree.close()
    return out


# --- comparison --------------------------------------------------------------------------


def compare(candor: JsonDict, reference: JsonDict) -> JsonDict:
    """Candor ÷ pymerkle (throughput) and pymerkle ÷ Candor (time), with the issue's targets."""
    out: JsonDict = {}
    for size, ref in reference.get("sizes", {}).items():
        ours = candor["sizes"][size]
        out[size] = {
            "roots_equal": ours["root"] == ref["root"],
            "append_throughput_ratio": round(
                ours["append_leaves_per_s_cumulative"] / ref["append_leaves_per_s_cumulative"], 2
            ),
            "inclusion_speedup_warm": round(
                ref["inclusion"]["p50_ms"] / ours["warm"]["inclusion"]["p50_ms"], 1
            ),
            "inclusion_speedup_cold": round(
                ref["inclusion"]["p50_ms"] / ours["cold"]["inclusion"]["p50_ms"], 1
            ),
            "consistency_speedup_warm": round(
                ref["consistency"]["p50_ms"] / ours["warm"]["consistency"]["p50_ms"], 1
            ),
            "consistency_speedup_cold": round(
                ref["consistency"]["p50_ms"] / ours["cold"]["consistency"]["p50_ms"], 1
            ),
        }
    return out


def check_roots(candor: JsonDict, batch: int) -> None:
    """The benchmark's own sanity check: Candor's roots equal a plain in-memory tree's."""
    tree = MemoryTree()
    number = 0
    for size in sorted(int(s) for s in candor["sizes"]):
        if size > 1_000_000:
            break
        while tree.size < size:
            for leaf in batch_leaves(number, min(batch, size - tree.size)):
                tree.append(leaf)
            number += 1
        if tree.root(size).hex() != candor["sizes"][str(size)]["root"]:
            raise SystemExit(f"candor's root at {size} differs from the reference tree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000,10000000")
    parser.add_argument("--batch", type=int, default=10_000, help="leaves per durable append")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--pymerkle-queries", type=int, default=300)
    parser.add_argument("--pymerkle-max", type=int, default=1_000_000)
    parser.add_argument("--singles", type=int, default=500, help="single appends to time")
    parser.add_argument("--record-calls", type=int, default=2000)
    parser.add_argument(
        "--postgres", metavar="URL", help="also run Candor on this (empty) PostgreSQL database"
    )
    parser.add_argument("--workdir", type=Path, help="where the SQLite files go (default: tmp)")
    opts = parser.parse_args()
    opts.sizes = sorted(int(s) for s in opts.sizes.split(","))
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="tlog-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)

    result: JsonDict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
    }
    sqlite_path = workdir / "candor.db"
    sqlite_url = f"sqlite+aiosqlite:///{sqlite_path}"
    upgrade(sqlite_url)  # alembic runs its own event loop: before ours
    result["candor_sqlite"] = asyncio.run(candor_run(sqlite_url, sqlite_path, opts))
    check_roots(result["candor_sqlite"], opts.batch)
    if opts.postgres:
        upgrade(opts.postgres)
        result["candor_postgresql"] = asyncio.run(candor_run(opts.postgres, None, opts))
    result["pymerkle_sqlite"] = pymerkle_run(workdir, opts)
    result["candor_vs_pymerkle"] = compare(result["candor_sqlite"], result["pymerkle_sqlite"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
