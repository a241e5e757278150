"""Engagement report benchmark (issue 6): one app's biweekly aggregate over N share events.

Target: under 10 s for one app's 14-day report from 10,000,000 share and click events, on
SQLite and on PostgreSQL, on the project's 2-core machine.

The data: `--events` rows of `share_events` (default 10,000,000) at the real schema (the
Alembic migrations), written in time order over `--days` UTC days (default 30: 14 days
before the measured period, the 14-day period 2026-11-02..2026-11-15, and 2 days after it,
so the period is a slice in the middle of the history). `--apps` apps (default 5); the
measured app has `--share` of the events (default 80 %), the others split the rest. Labels:
3 interfaces x 3 surfaces x 2 variants, skewed (web/player heavier). Kinds: 50 % sends
(1 to 5 recipients), 40 % first clicks, 10 % repeat clicks (4:1). People: `--persons` for the
measured app (default 20,000), a quarter of that for each other app. Deterministic (seeded).

Loading is fast and not the measured quantity (reported apart): SQLite through the stdlib
`sqlite3` with `executemany` in large transactions, `synchronous=OFF` for the load only, the
index rebuilt once at the end with its migrated definition; PostgreSQL through `COPY`
(asyncpg), the index rebuilt the same way, then `VACUUM ANALYZE` (as autovacuum would leave
a table of this age). The SQLite file is kept under `--workdir`; `--reuse` skips loading
when the file (or the PostgreSQL table) was made with the same parameters.

Measured: `candor.reports.repository.aggregate` for the measured app and period through the
server's own engine (`candor.store.db.Database`, a read transaction each), `--repeats`
times: min, median, max; then `aggregate_bounded`, the differential-privacy mode's
aggregate with each person's contribution bounded (`--contribution-bound`, the agreement's
default unless given), with how many people exceed the bound; then `ReportsService.produce` end to end (aggregate, k-threshold,
document, signature, insert) for the same period, the stored report deleted before each run
(the measured app is registered and approved through `PartnerAppsService` before loading,
so its client_id is a real one). `--pg-setting name=value` applies a setting on every
PostgreSQL connection, to try tuning without changing `src/`; `--explain` adds the query
plan. JSON on stdout, progress on stderr. Run it alone: the machine has 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from candor.config import Settings
from candor.core.clock import SystemClock
from candor.partners.apps.rules import DEFAULT_CONTRIBUTION_BOUND, AgreementTerms
from candor.reports.aggregate import CellCounts
from candor.reports.privacy import RECIPIENTS_CAP
from candor.reports.repository import aggregate, aggregate_bounded
from candor.store.db import Database
from candor.store.migrate import upgrade
from candor.wiring import build_homeserver, build_services

JsonDict = dict[str, Any]
Row = tuple[int, str, str, str, str, str, int, str, int, str, int]

PERIOD_START = date(2026, 11, 2)  # a Monday, as aligned biweekly periods start
PERIOD_DAYS = 14
DAYS_BEFORE = 14  # history before the period; the rest of --days comes after it
INTERFACES = (("web", 5), ("ios", 3), ("android", 2))
SURFACES = (("player", 5), ("detail", 3), ("home", 2))
VARIANTS = (("a", 1), ("b", 1))
KINDS = ((1, 5), (2, 4), (3, 1))  # SEND, FIRST_CLICK, REPEAT_CLICK
COLUMNS = (
    "event_id",
    "client_id",
    "day",
    "interface",
    "surface",
    "variant",
    "kind",
    "person",
    "recipients",
    "card_id",
    "ts",
)
INDEX = "ix_share_events_cell"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def other_apps(apps: int) -> list[str]:
    """The apps that are not measured: rows only (no registration, `aggregate` needs none)."""
    return [f"app_other{n:07d}" for n in range(1, apps)]


def settings_for(url: str, workdir: Path) -> Settings:
    return Settings(data_dir=workdir, database_url=url, server_name="bench.local")


async def register_app(url: str, workdir: Path) -> str:
    """The measured app, registered and approved as an operator would: `produce` needs it."""
    hs = build_homeserver(settings_for(url, workdir), SystemClock())
    apps = build_services(hs).apps
    new = await apps.create(
        name="StreamFlix",
        homepage="https://streamflix.example",
        contact="partners@streamflix.example",
        redirect_uris=["https://streamflix.example/callback"],
        domains=["streamflix.example"],
        scopes="share",
        public=False,
        terms=AgreementTerms(purpose="Recommendations", data_used="Share and click counts"),
        owner=None,
    )
    await apps.approve(new.app.client_id)
    await hs.db.dispose()
    return new.app.client_id


def history_days(days: int) -> list[date]:
    first = PERIOD_START - timedelta(DAYS_BEFORE)
    return [first + timedelta(d) for d in range(days)]


def generation_key(opts: argparse.Namespace) -> JsonDict:
    """Everything the generated rows depend on: a cached database is reused only if equal."""
    return {
        "version": 2,
        "index": INDEX,
        "events": opts.events,
        "apps": opts.apps,
        "share": opts.share,
        "days": opts.days,
        "persons": opts.persons,
        "seed": opts.seed,
    }


def generate(opts: argparse.Namespace, measured: str) -> Iterator[list[Row]]:
    """The events, one list per day, in time order (event ids follow time, as in production)."""
    rng = random.Random(opts.seed)
    apps = [measured, *other_apps(opts.apps)]
    app_weights = [opts.share] + [(1 - opts.share) / (opts.apps - 1)] * (opts.apps - 1)
    people = [
        [f"@u{a}x{p}:bench.local" for p in range(opts.persons if a == 0 else opts.persons // 4)]
        for a in range(opts.apps)
    ]
    cells = [(i, s, v) for i, _ in INTERFACES for s, _ in SURFACES for v, _ in VARIANTS]
    cell_weights = [
        wi * ws * wv for _, wi in INTERFACES for _, ws in SURFACES for _, wv in VARIANTS
    ]
    kinds = [k for k, _ in KINDS]
    kind_weights = [w for _, w in KINDS]
    days = history_days(opts.days)
    event_id = 0
    cards = 0
    for d, day in enumerate(days):
        n = opts.events // opts.days + (1 if d < opts.events % opts.days else 0)
        label = day.isoformat()
        start_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        step = 86_400_000 / n
        app_of = rng.choices(range(opts.apps), app_weights, k=n)
        cell_of = rng.choices(cells, cell_weights, k=n)
        kind_of = rng.choices(kinds, kind_weights, k=n)
        picks = [rng.random() for _ in range(n)]
        fan = [rng.randint(1, 5) for _ in range(n)]
        rows: list[Row] = []
        for j in range(n):
            a = app_of[j]
            interface, surface, variant = cell_of[j]
            kind = kind_of[j]
            pool = people[a]
            person = pool[int(picks[j] * len(pool))]
            if kind == 1:
                cards += 1
                card, recipients = cards, fan[j]
            else:  # a click on one of the last 50,000 cards
                card, recipients = max(1, cards - int(picks[j] * 50_000)), 0
            event_id += 1
            rows.append(
                (
                    event_id,
                    apps[a],
                    label,
                    interface,
                    surface,
                    variant,
                    kind,
                    person,
                    recipients,
                    f"card_{card:016x}",
                    start_ms + int(j * step),
                )
            )
        yield rows


# --- loading -----------------------------------------------------------------------------


def sqlite_load(path: Path, opts: argparse.Namespace) -> tuple[str, JsonDict]:
    """Fill a freshly migrated SQLite file; the index is rebuilt from its migrated SQL.

    Returns the measured app's client_id (kept in a marker file next to the database).
    """
    key = generation_key(opts)
    marker = path.with_suffix(".json")
    if opts.reuse and path.exists() and marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("key") == key:
            log(f"sqlite: reusing {path}")
            return str(saved["client_id"]), {"reused": True}
    for p in path.parent.glob(path.name + "*"):
        p.unlink()
    marker.unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    measured = asyncio.run(register_app(url, opts.workdir))
    start = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-524288")
    (index_sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()
    db.execute(f"DROP INDEX {INDEX}")
    insert = f"INSERT INTO share_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 11)})"  # noqa: S608 - constants
    loaded = 0
    for rows in generate(opts, measured):
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        loaded += len(rows)
        log(f"sqlite: {loaded:,} rows, {time.perf_counter() - start:.0f} s")
    inserted = time.perf_counter()
    db.execute(index_sql)
    indexed = time.perf_counter()
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    marker.write_text(json.dumps({"key": key, "client_id": measured}))
    done = time.perf_counter()
    return measured, {
        "reused": False,
        "insert_s": round(inserted - start, 1),
        "index_s": round(indexed - inserted, 1),
        "analyze_s": round(done - indexed, 1),
        "rows_per_s": round(loaded / (inserted - start)),
        "file_bytes": path.stat().st_size,
    }


def plain_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def pg_prepare(url: str, opts: argparse.Namespace) -> str | None:
    """Create the database if missing; the measured app if the table holds these events."""
    dsn = plain_dsn(url)
    name = dsn.rsplit("/", 1)[1].split("?")[0]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        comment = await conn.fetchval("SELECT obj_description('share_events'::regclass)")
    except asyncpg.UndefinedTableError:
        comment = None
    saved = json.loads(comment) if comment else {}
    if opts.reuse and saved.get("key") == generation_key(opts):
        await conn.close()
        return str(saved["client_id"])
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    await conn.close()
    return None


async def pg_load(url: str, opts: argparse.Namespace, measured: str) -> JsonDict:
    conn = await asyncpg.connect(plain_dsn(url))
    start = time.perf_counter()
    await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '1GB'")
    index_sql = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", INDEX)
    await conn.execute(f"DROP INDEX {INDEX}")
    loaded = 0
    for rows in generate(opts, measured):
        await conn.copy_records_to_table("share_events", records=rows, columns=COLUMNS)
        loaded += len(rows)
        log(f"postgresql: {loaded:,} rows, {time.perf_counter() - start:.0f} s")
    copied = time.perf_counter()
    await conn.execute(index_sql)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('share_events', 'event_id'), $1)", loaded
    )
    indexed = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) share_events")
    key = json.dumps({"key": generation_key(opts), "client_id": measured}).replace("'", "''")
    await conn.execute(f"COMMENT ON TABLE share_events IS '{key}'")
    size = await conn.fetchval("SELECT pg_total_relation_size('share_events')")
    await conn.close()
    done = time.perf_counter()
    return {
        "reused": False,
        "copy_s": round(copied - start, 1),
        "index_s": round(indexed - copied, 1),
        "vacuum_analyze_s": round(done - indexed, 1),
        "rows_per_s": round(loaded / (copied - start)),
        "relation_bytes": size,
    }


# --- measuring ---------------------------------------------------------------------------


def apply_settings(db: Database, settings: list[str]) -> None:
    """Run `PRAGMA x=y` (SQLite) or `SET x = y` (PostgreSQL) on every new connection."""
    if not settings:
        return
    statements = [
        f"PRAGMA {s}" if db.is_sqlite else "SET {} = '{}'".format(*s.split("=", 1))
        for s in settings
    ]

    @event.listens_for(db.engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # Any: DB-API seam
        cur = dbapi_conn.cursor()
        for statement in statements:
            cur.execute(statement)
        cur.close()


async def explain(db: Database, client_id: str, first: str, last: str) -> list[str]:
    """The plan of the exact statement `aggregate` sends (captured, not rebuilt here)."""

    def plan(conn: Connection) -> list[tuple[Any, ...]]:
        captured: list[tuple[str, Any]] = []

        def _capture(
            _conn: Connection, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool
        ) -> None:
            if "share_events" in statement:
                captured.append((statement, params))

        event.listen(conn, "before_cursor_execute", _capture)
        aggregate(conn, client_id, first, last)
        event.remove(conn, "before_cursor_execute", _capture)
        statement, params = captured[0]
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
        return [tuple(r) for r in conn.exec_driver_sql(prefix + statement, params).all()]

    rows = await db.read_off_loop(plan)
    if db.is_sqlite:
        return [f"{r[0]}<-{r[1]} {r[3]}" for r in rows]
    return [str(r[0]) for r in rows]


def spread(samples: list[float]) -> JsonDict:
    return {
        "min": round(min(samples), 3),
        "median": round(statistics.median(samples), 3),
        "max": round(max(samples), 3),
        "samples": [round(s, 3) for s in samples],
    }


async def time_produce(
    url: str, opts: argparse.Namespace, settings: list[str], client_id: str
) -> JsonDict:
    """`ReportsService.produce` end to end; the stored report is deleted before each run."""
    hs = build_homeserver(settings_for(url, opts.workdir), SystemClock())
    apply_settings(hs.db, settings)
    reports = build_services(hs).reports
    end = PERIOD_START + timedelta(PERIOD_DAYS - 1)
    samples: list[float] = []
    doc: JsonDict = {}
    for k in range(opts.repeats):
        async with hs.db.write() as conn:
            for table in ("report_deliveries", "reports"):
                await conn.execute(
                    text(f"DELETE FROM {table} WHERE client_id = :c"),  # noqa: S608 - constants
                    {"c": client_id},
                )
        start = time.perf_counter()
        stored = await reports.produce(client_id, end)
        samples.append(time.perf_counter() - start)
        doc = stored.document
        log(
            f"{'sqlite' if hs.db.is_sqlite else 'postgresql'}: produce {k + 1}: {samples[-1]:.2f} s"
        )
    await hs.db.dispose()
    rows = doc["rows"]
    return {
        "privacy": doc["privacy"]["method"],
        "rows": len(rows),
        "suppressed_rows": sum(1 for r in rows if r["suppressed"]),
        "body_bytes": len(stored.body),
        "produce_s": spread(samples),
    }


async def time_aggregate(
    db: Database, repeats: int, client_id: str, first: str, last: str
) -> tuple[list[float], list[float], list[CellCounts]]:
    """Wall and process CPU seconds of `repeats` aggregates, and the cells of the last."""
    samples: list[float] = []
    cpu: list[float] = []
    cells: list[CellCounts] = []
    for k in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        # The server's path: off the event loop on SQLite (`Database.read_off_loop`).
        cells = await db.read_off_loop(
            functools.partial(aggregate, client_id=client_id, first_day=first, last_day=last)
        )
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        log(f"{'sqlite' if db.is_sqlite else 'postgresql'}: run {k + 1}: {samples[-1]:.2f} s")
    return samples, cpu, cells


async def time_bounded(
    db: Database, opts: argparse.Namespace, client_id: str, first: str, last: str
) -> JsonDict:
    """`aggregate_bounded` (the DP mode's aggregate) and how many people it bounds."""
    bound = opts.contribution_bound
    work = functools.partial(
        aggregate_bounded,
        client_id=client_id,
        first_day=first,
        last_day=last,
        per_person=bound,
        recipients_cap=RECIPIENTS_CAP,
    )
    samples: list[float] = []
    cells: list[CellCounts] = []
    for k in range(opts.repeats):
        start = time.perf_counter()
        cells = await db.read_off_loop(work)
        samples.append(time.perf_counter() - start)
        log(f"{'sqlite' if db.is_sqlite else 'postgresql'}: bounded {k + 1}: {samples[-1]:.2f} s")
    async with db.read() as conn:
        over = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT person FROM share_events WHERE client_id = :c"
                " AND day >= :f AND day <= :l GROUP BY person HAVING"
                " sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) > :b"
                " OR sum(CASE WHEN kind = 1 THEN 0 ELSE 1 END) > :b) AS over_bound"
            ),
            {"c": client_id, "f": first, "l": last, "b": bound},
        )
        people = await conn.scalar(
            text(
                "SELECT count(DISTINCT person) FROM share_events WHERE client_id = :c"
                " AND day >= :f AND day <= :l"
            ),
            {"c": client_id, "f": first, "l": last},
        )
    return {
        "contribution_bound": bound,
        "people": people,
        "people_over_bound": over,
        "checksum": {
            name: sum(getattr(c, name) for c in cells)
            for name in ("sends", "recipients", "first_clicks", "repeat_clicks")
        },
        "aggregate_bounded_s": spread(samples),
    }


async def measure(
    url: str, opts: argparse.Namespace, settings: list[str], client_id: str
) -> JsonDict:
    db = Database(url)
    apply_settings(db, settings)
    first = PERIOD_START.isoformat()
    last = (PERIOD_START + timedelta(PERIOD_DAYS - 1)).isoformat()
    async with db.read() as conn:
        in_period = await conn.scalar(
            text(
                "SELECT count(*) FROM share_events WHERE client_id = :c AND day >= :f AND day <= :l"
            ),
            {"c": client_id, "f": first, "l": last},
        )
        total = await conn.scalar(text("SELECT count(*) FROM share_events"))
    load_before = os.getloadavg()[0]
    samples, cpu, cells = await time_aggregate(db, opts.repeats, client_id, first, last)
    out: JsonDict = {
        "settings": settings,
        "events_total": total,
        "events_in_period": in_period,
        "period": [first, last],
        "cells_out": len(cells),
        "checksum": {
            "sends": sum(c.sends for c in cells),
            "recipients": sum(c.recipients for c in cells),
            "first_clicks": sum(c.first_clicks for c in cells),
            "repeat_clicks": sum(c.repeat_clicks for c in cells),
            "max_people_per_cell": max((c.people for c in cells), default=0),
        },
        "aggregate_s": spread(samples),
        # This process's CPU: on SQLite (inline driver) the query itself, on PostgreSQL only
        # the client's share. With other work on the 2 cores, wall time exceeds it.
        "aggregate_process_cpu_s": spread(cpu),
        "loadavg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "target_s": 10.0,
        "median_over_target": round(statistics.median(samples) / 10.0, 3),
    }
    if opts.explain:
        out["plan"] = await explain(db, client_id, first, last)
    if not opts.no_bounded:
        out["differential_privacy"] = await time_bounded(db, opts, client_id, first, last)
    await db.dispose()
    if not opts.no_produce:
        out["produce"] = await time_produce(url, opts, settings, client_id)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--apps", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.8, help="measured app's share")
    parser.add_argument("--days", type=int, default=30, help="history, at least 28")
    parser.add_argument("--persons", type=int, default=20_000, help="measured app's people")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "candor-reports-bench"
    )
    parser.add_argument("--reuse", action="store_true", help="keep data made with these options")
    parser.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--explain", action="store_true", help="add the query plan")
    parser.add_argument("--no-produce", action="store_true", help="skip `produce`")
    parser.add_argument("--no-bounded", action="store_true", help="skip `aggregate_bounded`")
    parser.add_argument(
        "--contribution-bound",
        type=int,
        default=DEFAULT_CONTRIBUTION_BOUND,
        help="per-person bound for `aggregate_bounded`",
    )
    opts = parser.parse_args()
    if opts.days < DAYS_BEFORE + PERIOD_DAYS or opts.apps < 2:
        parser.error("--days must be at least 28 and --apps at least 2")
    opts.workdir.mkdir(parents=True, exist_ok=True)

    result: JsonDict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
    }
    if not opts.no_sqlite:
        path = opts.workdir / f"events-{opts.events}-{opts.seed}.db"
        client_id, result["sqlite_load"] = sqlite_load(path, opts)
        url = f"sqlite+aiosqlite:///{path}"
        result["sqlite"] = asyncio.run(measure(url, opts, [], client_id))
    if opts.postgres:
        reused = asyncio.run(pg_prepare(opts.postgres, opts))
        if reused is not None:
            log("postgresql: reusing the loaded table")
            client_id, result["postgresql_load"] = reused, {"reused": True}
        else:
            upgrade(opts.postgres)  # alembic runs its own event loop: outside ours
            client_id = asyncio.run(register_app(opts.postgres, opts.workdir))
            result["postgresql_load"] = asyncio.run(pg_load(opts.postgres, opts, client_id))
        result["postgresql"] = asyncio.run(measure(opts.postgres, opts, opts.pg_setting, client_id))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
