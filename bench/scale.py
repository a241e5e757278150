"""How a Matrix homeserver's costs grow with scale, against Candor or Synapse alike.

`matrix_load.py` measures one room of 64 people. Issue 17 asks how the costs grow: with the
number of people listening in a room, the number of rooms a person is in, the length of a
room's history and the number of idle connections. Each curve here grows one of these while
holding the rest small, and reports server CPU (user+system of the process tree, read from
/proc through psutil, when `--server-pid` is given) next to the client-side latencies, so two
servers can be compared on the same run:

* fan-out: L listeners long-poll `/sync` in one room; one sender sends events one at a time
  and waits until every listener has each; server CPU per delivered event (CPU / (events x
  L)), time until the first and until the last listener has it.
* rooms: a person in R rooms (each with a name, a topic, two members and a few messages):
  initial `/sync` p50/p95 and incremental `/sync` (timeout=0) with nothing new and with one
  new event.
* history: a room of H events: a page of 100 from `/messages`, from the end and from the
  middle of the history; p50/p95 and server CPU per page; the seeding time is reported.
* idle: C concurrent `/sync` long-polls held open; server RSS per connection.

Only the standard client-server API is used (users come from `/register` with
m.login.dummy). One JSON object goes to stdout; progress to stderr. Sizes are cumulative
within a curve (the 16-listener level keeps the first listener), so each curve builds its
fixture once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import aiohttp
import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs in dev deps

from matrix_load import (
    SETUP_CONCURRENCY,
    Client,
    Counters,
    JsonDict,
    MatrixError,
    User,
    bounded_gather,
    check_local,
    int_list,
    log,
    percentile,
    register_users,
    send_message,
    tree_cpu_seconds,
    tree_rss_bytes,
)

CURVES = ("fanout", "rooms", "history", "idle")
LISTEN_FILTER = json.dumps({"room": {"timeline": {"limit": 50}}}, separators=(",", ":"))
ONE_EVENT_FILTER = json.dumps({"room": {"timeline": {"limit": 1}}}, separators=(",", ":"))
ROOMS_FILTER = json.dumps({"room": {"timeline": {"limit": 10}}}, separators=(",", ":"))
FANOUT_POLL_MS = 30000
DELIVERY_WAIT_S = 30.0
PAGE = 100


@dataclass(frozen=True)
class Options:
    """Command-line settings, parsed once so the curves are argparse-free."""

    url: str
    server_pid: int | None
    label: str | None
    quick: bool
    curves: list[str]
    fanout_listeners: list[int]
    fanout_events: int
    fanout_pause_ms: float
    room_counts: list[int]
    room_history: int
    sync_samples: int
    history_sizes: list[int]
    history_pages: int
    seed_concurrency: int
    idle_connections: list[int]
    idle_users: int
    idle_timeout_ms: int
    curve_max_seconds: float
    max_retries: int


QUICK: dict[str, Any] = {  # Any: values of several Options field types
    "fanout_listeners": [1, 4],
    "fanout_events": 5,
    "room_counts": [3, 10],
    "sync_samples": 5,
    "history_sizes": [200, 1000],
    "history_pages": 5,
    "idle_connections": [20, 100],
    "curve_max_seconds": 120.0,
}


class LongPollClient(Client):
    """matrix_load's client with an unbounded pool and a read timeout past the long-poll."""

    def __init__(self, base_url: str, max_retries: int, read_timeout_s: float) -> None:
        super().__init__(base_url, max_retries, pool_size=0)
        self.read_timeout_s = read_timeout_s
        self.headers_sent = 0  # requests written to a socket: in the server's hands
        self._session: aiohttp.ClientSession | None = None

    async def _on_headers_sent(self, *_: object) -> None:
        self.headers_sent += 1

    @property
    def http(self) -> aiohttp.ClientSession:
        """One session, no connection limit (the idle curve holds thousands at once)."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=30, sock_read=self.read_timeout_s
            )
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(self._on_headers_sent)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, trace_configs=[trace]
            )
        return self._session

    async def close(self) -> None:
        """Release every connection, including held long-polls."""
        if self._session is not None:
            await self._session.close()
        self._session = None
        self.headers_sent = 0


class Meter:
    """Server and client CPU (and server RSS) around one measured stretch."""

    def __init__(self, server_pid: int | None) -> None:
        self.pid = server_pid
        self._own = psutil.Process()
        self._cpu = 0.0
        self._client = 0.0

    def _server_cpu(self) -> float:
        return tree_cpu_seconds(self.pid) if self.pid else 0.0

    def _client_cpu(self) -> float:
        times = self._own.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        """Remember the counters at the start of the stretch."""
        self._cpu = self._server_cpu()
        self._client = self._client_cpu()

    def per(self, units: int) -> JsonDict:
        """CPU ms per unit since start(); the server's is None without --server-pid."""
        server = (self._server_cpu() - self._cpu) * 1000 / units if self.pid else None
        client = (self._client_cpu() - self._client) * 1000 / units
        return {
            "server_cpu_ms": None if server is None else round(server, 3),
            "client_cpu_ms": round(client, 3),
        }

    def rss_mb(self) -> float | None:
        """Resident memory of the server tree now, in MiB."""
        return round(tree_rss_bytes(self.pid) / 2**20, 1) if self.pid else None


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for the report."""
    return round(seconds * 1000, 2)


def stats(samples: Sequence[float]) -> JsonDict:
    """p50/p95 (ms) of durations in seconds."""
    return {
        "p50_ms": ms(percentile(samples, 50)),
        "p95_ms": ms(percentile(samples, 95)),
        "n": len(samples),
    }


def room_path(room_id: str, rest: str) -> str:
    """A percent-encoded per-room path."""
    return f"/rooms/{quote(room_id, safe='')}/{rest}"


async def sync(
    client: Client,
    user: User,
    since: str | None = None,
    timeout_ms: int = 0,
    sync_filter: str = ONE_EVENT_FILTER,
) -> JsonDict:
    """One /sync call; initial when `since` is None."""
    params = {"filter": sync_filter, "timeout": str(timeout_ms)}
    if since is not None:
        params["since"] = since
    resp = await client.request("GET", "/sync", token=user.token, params=params)
    data: JsonDict = resp.json()
    return data


async def timed(job: Awaitable[Any]) -> tuple[float, Any]:
    """Wall time of one awaited request, and its result."""
    start = time.perf_counter()
    result = await job
    return time.perf_counter() - start, result


async def create_room(client: Client, owner: User, name: str, topic: str = "") -> str:
    """A public room (anyone may join by id), with a name and optionally a topic."""
    body: JsonDict = {"preset": "public_chat", "name": name, "visibility": "private"}
    if topic:
        body["topic"] = topic
    resp = await client.request("POST", "/createRoom", token=owner.token, body=body)
    room_id: str = resp.json()["room_id"]
    return room_id


async def join(client: Client, user: User, room_id: str) -> None:
    """Join a public room by id."""
    await client.request("POST", room_path(room_id, "join"), token=user.token, body={})


async def join_all(client: Client, users: Sequence[User], room_id: str) -> None:
    """Everyone joins one room, a few at a time."""

    def job(user: User) -> Callable[[], Awaitable[None]]:
        return lambda: join(client, user, room_id)

    await bounded_gather([job(u) for u in users], SETUP_CONCURRENCY)


def timeline_bodies(data: JsonDict, room_id: str) -> list[str]:
    """Message bodies in one room's timeline of a /sync response."""
    room = data.get("rooms", {}).get("join", {}).get(room_id, {})
    return [
        str(e.get("content", {}).get("body", ""))
        for e in room.get("timeline", {}).get("events", [])
    ]


# --- fan-out -------------------------------------------------------------------------------


@dataclass
class Arrivals:
    """First and last arrival of each sent body over the current set of listeners."""

    listeners: int = 0
    responses: int = 0  # /sync responses the listeners got, with or without the event
    sent_at: dict[str, float] = field(default_factory=dict)
    seen: dict[str, set[int]] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)

    def expect(self, body: str) -> asyncio.Event:
        """Register a body just before it is sent."""
        self.sent_at[body] = time.perf_counter()
        self.seen[body] = set()
        self.done[body] = asyncio.Event()
        return self.done[body]

    def observe(self, listener: int, body: str, now: float) -> None:
        """A listener's /sync carried `body`; count each listener once."""
        seen = self.seen.get(body)
        if seen is None or listener in seen or listener >= self.listeners:
            return
        seen.add(listener)
        self.first.setdefault(body, now - self.sent_at[body])
        if len(seen) == self.listeners:
            self.last[body] = now - self.sent_at[body]
            self.done[body].set()


async def listen(
    client: Client, user: User, index: int, room_id: str, since: str, arrivals: Arrivals
) -> None:
    """Long-poll until cancelled, reporting the arrival of each timeline body."""
    while True:
        data = await sync(client, user, since, FANOUT_POLL_MS, LISTEN_FILTER)
        now = time.perf_counter()
        since = data["next_batch"]
        arrivals.responses += 1
        for body in timeline_bodies(data, room_id):
            arrivals.observe(index, body, now)


async def fanout_round(
    client: Client, sender: User, room_id: str, arrivals: Arrivals, events: int, pause_s: float
) -> tuple[list[str], int]:
    """Send `events` one at a time, each after all listeners had the previous one."""
    tag = uuid.uuid4().hex[:8]
    bodies, missed = [], 0
    for i in range(events):
        body = f"fanout {tag} {i}"
        done = arrivals.expect(body)
        await send_message(client, sender, room_id, body)
        try:
            await asyncio.wait_for(done.wait(), DELIVERY_WAIT_S)
        except TimeoutError:
            missed += arrivals.listeners - len(arrivals.seen[body])
        bodies.append(body)
        await asyncio.sleep(pause_s)  # let the listeners park their next long-poll
    return bodies, missed


async def curve_fanout(client: Client, opts: Options, out: JsonDict) -> None:
    """Grow the listeners of one room; per level: CPU per delivered event and latencies."""
    top = max(opts.fanout_listeners)
    log(f"fanout: registering {top + 1} users")
    users = await register_users(client, top + 1)
    sender, listeners = users[0], users[1:]
    room_id = await create_room(client, sender, "scale fan-out")
    await join_all(client, listeners, room_id)
    arrivals = Arrivals()
    tasks: list[asyncio.Task[None]] = []
    meter = Meter(opts.server_pid)
    pause_s = opts.fanout_pause_ms / 1000
    try:
        for level in opts.fanout_listeners:
            for i in range(len(tasks), level):
                initial = await sync(client, listeners[i])
                poll = listen(client, listeners[i], i, room_id, initial["next_batch"], arrivals)
                tasks.append(asyncio.create_task(poll))
            arrivals.listeners = level
            await asyncio.sleep(0.5)
            await fanout_round(client, sender, room_id, arrivals, 2, pause_s)  # warm-up
            meter.start()
            responses = arrivals.responses
            bodies, missed = await fanout_round(
                client, sender, room_id, arrivals, opts.fanout_events, pause_s
            )
            cost = meter.per(len(bodies) * level)
            result = {
                "events": len(bodies),
                "server_cpu_ms_per_delivery": cost["server_cpu_ms"],
                "client_cpu_ms_per_delivery": cost["client_cpu_ms"],
                # Above 1: listeners were woken without the event (a spurious wake-up costs
                # a /sync built for nothing).
                "sync_responses_per_delivery": round(
                    (arrivals.responses - responses) / (len(bodies) * level), 2
                ),
                "until_all": stats([arrivals.last[b] for b in bodies if b in arrivals.last]),
                "until_first": stats([arrivals.first[b] for b in bodies if b in arrivals.first]),
                "missed": missed,
            }
            out[str(level)] = result
            log(f"fanout L={level}: {result}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- rooms ---------------------------------------------------------------------------------


async def add_rooms(
    client: Client, host: User, person: User, start: int, stop: int, history: int
) -> list[str]:
    """Rooms start..stop-1: the host creates each (name, topic), the person joins, history."""

    def job(i: int) -> Callable[[], Awaitable[str]]:
        async def make() -> str:
            room_id = await create_room(client, host, f"room {i}", f"topic of room {i}")
            await join(client, person, room_id)
            for k in range(history):
                await send_message(client, host, room_id, f"history {i} {k}")
            return room_id

        return make

    return list(await bounded_gather([job(i) for i in range(start, stop)], SETUP_CONCURRENCY))


async def curve_rooms(client: Client, opts: Options, out: JsonDict) -> None:
    """Grow the rooms a person is in; per level: initial and incremental /sync."""
    host, person = await register_users(client, 2)
    rooms: list[str] = []
    meter = Meter(opts.server_pid)
    n = opts.sync_samples
    for count in opts.room_counts:
        start = time.perf_counter()
        rooms += await add_rooms(client, host, person, len(rooms), count, opts.room_history)
        setup_s = time.perf_counter() - start
        log(f"rooms: {count} rooms ready ({setup_s:.1f} s); timing initial /sync")
        initial: list[float] = []
        await sync(client, person, sync_filter=ROOMS_FILTER)  # warm-up, not measured
        meter.start()
        for _ in range(n):
            took, data = await timed(sync(client, person, sync_filter=ROOMS_FILTER))
            initial.append(took)
        initial_cost = meter.per(n)
        joined = len(data.get("rooms", {}).get("join", {}))
        since = data["next_batch"]
        idle: list[float] = []
        meter.start()
        for _ in range(n):
            took, data = await timed(sync(client, person, since, 0, ROOMS_FILTER))
            idle.append(took)
            since = data["next_batch"]
        idle_cost = meter.per(n)
        one_new: list[float] = []
        missed = 0
        for i in range(n):
            room_id = rooms[(i * 7919) % len(rooms)]
            body = f"new {uuid.uuid4().hex[:8]}"
            await send_message(client, host, room_id, body)
            took, data = await timed(sync(client, person, since, 0, ROOMS_FILTER))
            one_new.append(took)
            since = data["next_batch"]
            missed += body not in timeline_bodies(data, room_id)
        result = {
            "setup_s": round(setup_s, 1),
            "joined_in_initial_sync": joined,
            "initial": {**stats(initial), **initial_cost},
            "incremental_nothing_new": {**stats(idle), **idle_cost},
            "incremental_one_new": {**stats(one_new), "not_in_response": missed},
        }
        out[str(count)] = result
        log(f"rooms R={count}: {result}")


# --- history -------------------------------------------------------------------------------


async def seed(client: Client, writers: list[User], room_id: str, count: int, conc: int) -> None:
    """Send `count` messages concurrently (each PUT has its own txn id)."""
    remaining = iter(range(count))

    async def worker(w: int) -> None:
        for i in remaining:
            await send_message(client, writers[(w + i) % len(writers)], room_id, f"seed {i}")

    await asyncio.gather(*(worker(w) for w in range(conc)))


async def page(client: Client, reader: User, room_id: str, since: str | None) -> float:
    """Time one page of PAGE events backwards; a short page aborts (it would flatter)."""
    params = {"dir": "b", "limit": str(PAGE)}
    if since is not None:
        params["from"] = since
    took, resp = await timed(
        client.request("GET", room_path(room_id, "messages"), token=reader.token, params=params)
    )
    chunk = resp.json().get("chunk", [])
    if len(chunk) != PAGE:
        raise MatrixError(f"/messages returned {len(chunk)} events, wanted {PAGE}")
    return took


async def curve_history(client: Client, opts: Options, out: JsonDict) -> None:
    """Grow one room's history; per size: a page from the end and from the middle."""
    writer, reader = await register_users(client, 2)
    room_id = await create_room(client, writer, "scale history")
    await join(client, reader, room_id)
    # A page "deep in history" starts at the middle: the reader's prev_batch, captured when
    # the room held half of that size, is a standard token at that point on any server.
    marks = sorted({*opts.history_sizes, *(h // 2 for h in opts.history_sizes)})
    tokens: dict[int, str] = {}
    sent, seed_s = 0, 0.0
    meter = Meter(opts.server_pid)
    for mark in marks:
        start = time.perf_counter()
        await seed(client, [writer], room_id, mark - sent, opts.seed_concurrency)
        seed_s += time.perf_counter() - start
        sent = mark
        data = await sync(client, reader)
        tokens[mark] = data["rooms"]["join"][room_id]["timeline"]["prev_batch"]
        log(f"history: {sent} events seeded ({seed_s:.1f} s so far)")
        if mark not in opts.history_sizes:
            continue
        result: JsonDict = {"seeded": sent, "seed_s_cumulative": round(seed_s, 1)}
        for name, since in (("end", None), ("middle", tokens[mark // 2])):
            samples = []
            await page(client, reader, room_id, since)  # warm-up, not measured
            meter.start()
            for _ in range(opts.history_pages):
                samples.append(await page(client, reader, room_id, since))
            result[name] = {**stats(samples), **meter.per(opts.history_pages)}
        out[str(mark)] = result
        log(f"history H={mark}: {result}")


# --- idle long-polls -----------------------------------------------------------------------


def raise_nofile() -> int:
    """Lift this process's open-file limit to the hard limit; thousands of sockets need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def server_connections(pid: int) -> int:
    """Established TCP connections held by the server tree (root may read them all)."""
    total = 0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        total += sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED)
    return total


async def settled_rss(meter: Meter, limit_s: float = 15.0) -> float | None:
    """RSS once two samples 0.5 s apart agree within 0.5% (or after `limit_s`)."""
    if meter.pid is None:
        return None
    deadline = time.monotonic() + limit_s
    last = tree_rss_bytes(meter.pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = tree_rss_bytes(meter.pid)
        if abs(now - last) <= last * 0.005:
            return now / 2**20
        last = now
    return last / 2**20


@dataclass
class Held:
    """Counts over the held long-polls: how many returned (a server cap) or failed."""

    returned: int = 0
    failed: int = 0


async def hold(client: Client, user: User, since: str, timeout_ms: int, held: Held) -> None:
    """Keep one long-poll open; re-poll at once if the server ends it early (its cap)."""
    while True:
        try:
            data = await sync(client, user, since, timeout_ms)
        except (MatrixError, aiohttp.ClientError, TimeoutError):
            held.failed += 1
            await asyncio.sleep(1)
            continue
        held.returned += 1
        since = data["next_batch"]


async def wait_held(
    client: LongPollClient, pid: int | None, want: int, others: int, limit_s: float
) -> int:
    """Wait until `want` polls were sent and, with a pid, the server accepted as many.

    A request written to a socket may still sit in the kernel's accept queue of a busy
    server; its memory shows only once the server has taken the connection. Returns the
    number of our connections the server holds (or the number sent, without a pid).
    """
    deadline = time.monotonic() + limit_s
    while True:
        held = client.headers_sent if pid is None else server_connections(pid) - others
        if (held >= want and client.headers_sent >= want) or time.monotonic() > deadline:
            return held
        await asyncio.sleep(0.2)


async def curve_idle(client: LongPollClient, opts: Options, out: JsonDict) -> None:
    """Hold more and more idle /sync long-polls; server RSS per held connection."""
    out["nofile_limit"] = raise_nofile()
    tasks: list[asyncio.Task[None]] = []
    held = Held()
    meter = Meter(opts.server_pid)
    try:
        users = await register_users(client, opts.idle_users)
        sinces = [(await sync(client, u))["next_batch"] for u in users]
        # Start from no connection of ours, so each poll opens one the server must accept.
        await client.close()
        await asyncio.sleep(1)
        base = await settled_rss(meter)
        # The server's other connections are its database's (PostgreSQL), if any.
        before = server_connections(opts.server_pid) if opts.server_pid else 0
        out["rss_mb_before"] = None if base is None else round(base, 1)
        for level in opts.idle_connections:
            start = time.perf_counter()
            for i in range(len(tasks), level):
                # A distinct timeout per request: Synapse shares one response between
                # identical concurrent /sync requests, which would hide the per-request cost.
                u = i % len(users)
                job = hold(client, users[u], sinces[u], opts.idle_timeout_ms + i, held)
                tasks.append(asyncio.create_task(job))
                if i % 100 == 99:
                    await asyncio.sleep(0.05)  # do not overflow the listen backlog
            held_now = await wait_held(client, opts.server_pid, level, before, 120.0)
            open_s = time.perf_counter() - start
            rss = await settled_rss(meter)
            result: JsonDict = {
                "polls_sent": client.headers_sent,
                "held_by_server": held_now,
                "open_s": round(open_s, 1),
                "rss_mb": None if rss is None else round(rss, 1),
                "kib_per_connection": None
                if rss is None or base is None
                else round((rss - base) * 1024 / level, 1),
                "returned_early": held.returned,
                "failed": held.failed,
            }
            out[str(level)] = result
            log(f"idle C={level}: {result}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- orchestration -------------------------------------------------------------------------


async def run_curve(name: str, opts: Options, totals: Counters) -> JsonDict:
    """One curve on its own client (so no other curve's connections linger), under its own
    time bound; the sizes finished before a timeout or an error are kept."""
    read_s = (opts.idle_timeout_ms if name == "idle" else FANOUT_POLL_MS) / 1000 + 60
    client = LongPollClient(opts.url, opts.max_retries, read_s)
    out: JsonDict = {}
    job: Awaitable[None]
    if name == "fanout":
        job = curve_fanout(client, opts, out)
    elif name == "rooms":
        job = curve_rooms(client, opts, out)
    elif name == "history":
        job = curve_history(client, opts, out)
    else:
        job = curve_idle(client, opts, out)
    start = time.perf_counter()
    try:
        await asyncio.wait_for(job, opts.curve_max_seconds)
    except TimeoutError:
        out["timed_out_after_s"] = opts.curve_max_seconds
        log(f"{name}: stopped after --curve-max-seconds={opts.curve_max_seconds}")
    except (MatrixError, aiohttp.ClientError) as exc:
        out["error"] = repr(exc)[:300]
        log(f"{name}: failed: {exc!r}")
    finally:
        await client.close()
    out["curve_s"] = round(time.perf_counter() - start, 1)
    totals.rate_limited += client.counters.rate_limited
    totals.errors += client.counters.errors
    return out


async def run(opts: Options) -> JsonDict:
    """Every requested curve in turn, with the machine's load around them (it is shared)."""
    meter = Meter(opts.server_pid)
    totals = Counters()
    report: JsonDict = {
        "server": opts.url,
        "label": opts.label,
        "quick": opts.quick,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "rss_mb_start": meter.rss_mb(),
        "curves": {},
    }
    for name in opts.curves:
        log(f"--- {name}")
        report["curves"][name] = await run_curve(name, opts, totals)
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["rss_mb_end"] = meter.rss_mb()
    report["rate_limited_retries"] = totals.rate_limited
    report["errors"] = totals.errors
    return report


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """CLI; defaults are the issue's sizes, `--quick` a smoke test of every curve."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("url", help="homeserver base URL, e.g. http://127.0.0.1:8008 (loopback)")
    p.add_argument("--server-pid", type=int, default=None, help="measure CPU/RSS of this tree")
    p.add_argument("--label", default=None)
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--curves", default=",".join(CURVES), help=f"any of {','.join(CURVES)}")
    p.add_argument("--fanout-listeners", type=int_list, default=[1, 16, 64, 256])
    p.add_argument("--fanout-events", type=int, default=20, help="measured events per level")
    p.add_argument("--fanout-pause-ms", type=float, default=50.0)
    p.add_argument("--room-counts", type=int_list, default=[10, 100, 500])
    p.add_argument("--room-history", type=int, default=3, help="messages per room")
    p.add_argument("--sync-samples", type=int, default=20, help="per /sync kind and level")
    p.add_argument("--history-sizes", type=int_list, default=[1000, 10000, 100000])
    p.add_argument("--history-pages", type=int, default=20, help="per page kind and size")
    p.add_argument("--seed-concurrency", type=int, default=48)
    p.add_argument("--idle-connections", type=int_list, default=[100, 1000, 3000])
    p.add_argument("--idle-users", type=int, default=8)
    p.add_argument("--idle-timeout-ms", type=int, default=180000, help="long-poll timeout")
    p.add_argument("--curve-max-seconds", type=float, default=1800.0)
    p.add_argument("--max-retries", type=int, default=20, help="per request, for 429s")
    raw = sys.argv[1:] if argv is None else list(argv)
    a = p.parse_args(raw)
    curves = [c.strip() for c in a.curves.split(",") if c.strip()]
    if unknown := [c for c in curves if c not in CURVES]:
        p.error(f"unknown curve(s) {unknown}; choose from {','.join(CURVES)}")
    if min(a.history_sizes) < 2 * PAGE:
        p.error(f"--history-sizes must be at least {2 * PAGE} (a page from the middle)")
    if a.idle_timeout_ms < 60000:
        p.error("--idle-timeout-ms must be at least 60000")
    opts = Options(
        url=check_local(a.url),
        server_pid=a.server_pid,
        label=a.label,
        quick=a.quick,
        curves=curves,
        fanout_listeners=sorted(a.fanout_listeners),
        fanout_events=a.fanout_events,
        fanout_pause_ms=a.fanout_pause_ms,
        room_counts=sorted(a.room_counts),
        room_history=a.room_history,
        sync_samples=a.sync_samples,
        history_sizes=sorted(a.history_sizes),
        history_pages=a.history_pages,
        seed_concurrency=a.seed_concurrency,
        idle_connections=sorted(a.idle_connections),
        idle_users=a.idle_users,
        idle_timeout_ms=a.idle_timeout_ms,
        curve_max_seconds=a.curve_max_seconds,
        max_retries=a.max_retries,
    )
    if a.quick:
        # --quick sets the small sizes; options given explicitly still win.
        given = {arg.split("=")[0].lstrip("-").replace("-", "_") for arg in raw}
        opts = replace(opts, **{k: v for k, v in QUICK.items() if k not in given})
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print exactly one JSON object."""
    opts = parse_args(argv)
    if opts.server_pid and not psutil.pid_exists(opts.server_pid):
        raise SystemExit(f"no process with pid {opts.server_pid}")
    report = asyncio.run(run(opts))
    print(json.dumps(report))
    failed = any("error" in c for c in report["curves"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
