"""Load generator for any Matrix homeserver, speaking only the standard client-server API.

It measures, against a homeserver on this machine:

* send throughput: ``PUT /rooms/{id}/send/m.room.message/{txnId}`` at several concurrency
  levels, as messages per second plus p50/p99 request latency;
* ``/sync`` delivery latency: time from just before a send request until each long-polling
  listener's ``/sync`` response carries that event, with 1 and 16 listeners;
* server cost, when ``--server-pid`` is given: peak RSS of the process tree, and server CPU
  time per message during each send level.

Because it only uses ``/_matrix/client/v3`` endpoints, the same run can be pointed at Candor
and at Synapse and the JSON outputs compared directly. The JSON object goes to stdout; all
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs in dev deps
from multidict import CIMultiDictProxy
from yarl import URL

API = "/_matrix/client/v3"
JsonDict = dict[str, Any]
INITIAL_FILTER = json.dumps({"room": {"timeline": {"limit": 1}}}, separators=(",", ":"))
POLL_FILTER = json.dumps({"room": {"timeline": {"limit": 100}}}, separators=(",", ":"))
SYNC_TIMEOUT_MS = 30000
MAX_RETRY_WAIT_S = 10.0
SETUP_CONCURRENCY = 8


@dataclass(frozen=True)
class Options:
    """Command-line settings, parsed once so the rest of the code is argparse-free."""

    url: str
    users: int
    levels: list[int]
    messages: int
    warmup: int
    sync_listeners: list[int]
    sync_messages: int
    sync_pause_ms: float
    server_pid: int | None
    db_pid: int | None
    label: str | None
    max_seconds: float
    max_retries: int


@dataclass(frozen=True)
class User:
    """A registered account; the token is all we need to act as it."""

    user_id: str
    token: str


@dataclass
class Counters:
    """Run-wide tallies, reported so a result polluted by throttling or errors is visible."""

    rate_limited: int = 0
    errors: int = 0


class MatrixError(Exception):
    """A request that still failed after retries; aborts the run rather than skewing it."""


@dataclass(frozen=True)
class Response:
    """A fully read response: status, headers and body, detached from the connection."""

    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON (orjson: far cheaper than the stdlib on /sync bodies)."""
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        """The body as text, for error messages."""
        return self.content.decode("utf-8", errors="replace")


class Client:
    """Thin wrapper over one shared keep-alive connection pool with bounded 429 handling.

    aiohttp rather than httpx: the generator shares 2 cores with the server under test, and
    aiohttp costs a fraction of httpx's client CPU per request.
    """

    def __init__(self, base_url: str, max_retries: int, pool_size: int) -> None:
        self.base_url = base_url + API
        self.max_retries = max_retries
        self.pool_size = pool_size
        self.counters = Counters()
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared session, created lazily because aiohttp needs a running event loop."""
        if self._http is None:
            # Same bounds as before: 10 s to open a socket, 60 s (> the 30 s long-poll) to
            # wait for a pooled connection or for the next bytes of a response.
            read_s = SYNC_TIMEOUT_MS / 1000 + 30
            timeout = aiohttp.ClientTimeout(
                total=None, connect=read_s, sock_connect=10, sock_read=read_s
            )
            connector = aiohttp.TCPConnector(
                limit=self.pool_size, limit_per_host=0, keepalive_timeout=60, use_dns_cache=True
            )
            self._http = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._http

    async def close(self) -> None:
        """Release pooled connections."""
        if self._http is not None:
            await self._http.close()

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: JsonDict | None = None,
        params: dict[str, str] | None = None,
        ok: Sequence[int] = (200,),
    ) -> Response:
        """Send one request, waiting out 429s; bounded so a throttling server cannot hang us."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        # `path` is already percent-encoded (room ids go through quote()); keep it verbatim.
        url = URL(self.base_url + path, encoded=True)
        for _ in range(self.max_retries + 1):
            resp = await self._send(method, url, data, params, headers)
            if resp.status_code in ok:
                return resp
            if resp.status_code != 429:
                break
            self.counters.rate_limited += 1
            await asyncio.sleep(retry_delay(resp))
        self.counters.errors += 1
        raise MatrixError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")

    async def _send(
        self,
        method: str,
        url: URL,
        data: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
    ) -> Response:
        """One HTTP exchange, body read in full so the connection goes straight back to the pool."""
        try:
            async with self.http.request(
                method, url, data=data, params=params, headers=headers
            ) as resp:
                return Response(resp.status, resp.headers, await resp.read())
        except TimeoutError as exc:
            # aiohttp may raise a bare TimeoutError; keep it distinct from --max-seconds.
            if isinstance(exc, aiohttp.ClientError):
                raise
            raise aiohttp.ServerTimeoutError(f"{method} {url.path} timed out") from exc


def retry_delay(resp: Response) -> float:
    """Seconds to wait after a 429, from retry_after_ms or Retry-After, capped."""
    try:
        ms = float(resp.json().get("retry_after_ms", 0))
    except (ValueError, AttributeError):
        ms = 0.0
    if ms <= 0:
        try:
            ms = float(resp.headers.get("Retry-After", "0.5")) * 1000
        except ValueError:
            ms = 500.0
    return min(max(ms / 1000, 0.01), MAX_RETRY_WAIT_S)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile; q in [0, 100]. NaN when there is nothing to rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays a single JSON document."""
    print(msg, file=sys.stderr, flush=True)


# --- server process accounting -------------------------------------------------------------


def process_tree(pid: int) -> list[psutil.Process]:
    """The server and its children: Synapse workers or a forking server count too."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of the whole tree, skipping processes that vanish mid-sample."""
    total = 0
    for proc in process_tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU consumed so far by the tree, used as a delta around a send level."""
    total = 0.0
    for proc in process_tree(pid):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class RssSampler:
    """Samples server RSS every 100 ms in the background to catch the peak, not the end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = tree_rss_bytes(pid)
        self.task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, tree_rss_bytes(self.pid))
            except psutil.Error:
                return
            await asyncio.sleep(0.1)

    def start(self) -> None:
        """Begin sampling."""
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> float:
        """Stop sampling and return the peak in MB."""
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        return round(self.peak / 2**20, 1)


# --- setup: users and room -----------------------------------------------------------------


async def register(client: Client, username: str, password: str) -> User:
    """Register via user-interactive auth with m.login.dummy (or none, if not demanded)."""
    body: JsonDict = {"username": username, "password": password, "inhibit_login": False}
    resp = await client.request("POST", "/register", body=body, ok=(200, 401, 400))
    if resp.status_code != 200:
        session = resp.json().get("session") if resp.status_code == 401 else None
        auth: JsonDict = {"type": "m.login.dummy"}
        if session:
            auth["session"] = session
        resp = await client.request("POST", "/register", body={**body, "auth": auth})
    data = resp.json()
    return User(user_id=data["user_id"], token=data["access_token"])


async def bounded_gather(jobs: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run setup jobs with limited parallelism so password hashing does not swamp the server."""
    sem = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with sem:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def register_users(client: Client, count: int) -> list[User]:
    """Create fresh accounts with a per-run random prefix so reruns never collide."""
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex

    def job(i: int) -> Callable[[], Awaitable[User]]:
        return lambda: register(client, f"{prefix}_{i}", password)

    return await bounded_gather([job(i) for i in range(count)], SETUP_CONCURRENCY)


async def setup_room(client: Client, users: list[User]) -> str:
    """User 0 creates a public room; everyone else joins it so all are senders/listeners."""
    body = {"preset": "public_chat", "name": "candor-bench", "visibility": "private"}
    resp = await client.request("POST", "/createRoom", token=users[0].token, body=body)
    room_id: str = resp.json()["room_id"]
    path = f"/rooms/{quote(room_id, safe='')}/join"

    def job(user: User) -> Callable[[], Awaitable[Response]]:
        return lambda: client.request("POST", path, token=user.token, body={})

    await bounded_gather([job(u) for u in users[1:]], SETUP_CONCURRENCY)
    return room_id


# --- send throughput -----------------------------------------------------------------------


async def send_message(client: Client, user: User, room_id: str, body: str) -> str:
    """PUT one text message with a unique txnId; returns the event_id."""
    path = f"/rooms/{quote(room_id, safe='')}/send/m.room.message/{uuid.uuid4().hex}"
    content = {"msgtype": "m.text", "body": body}
    resp = await client.request("PUT", path, token=user.token, body=content)
    event_id: str = resp.json()["event_id"]
    return event_id


async def send_burst(
    client: Client, users: list[User], room_id: str, concurrency: int, total: int
) -> list[float]:
    """Send `total` messages from `concurrency` workers, round-robin over users; latencies."""
    latencies: list[float] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < total:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            await send_message(client, users[i % len(users)], room_id, f"load {i}")
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def send_level(
    client: Client, users: list[User], room_id: str, concurrency: int, opts: Options
) -> JsonDict:
    """One concurrency level: throughput, latency percentiles and server/client CPU cost."""
    cpu_before = tree_cpu_seconds(opts.server_pid) if opts.server_pid else 0.0
    db_before = tree_cpu_seconds(opts.db_pid) if opts.db_pid else 0.0
    own = psutil.Process()
    own_before = sum(own.cpu_times()[:2])
    start = time.perf_counter()
    latencies = await send_burst(client, users, room_id, concurrency, opts.messages)
    elapsed = time.perf_counter() - start
    result: JsonDict = {
        "msgs_per_s": round(opts.messages / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "cpu_ms_per_msg": None,
        "client_cpu_ms_per_msg": round(
            (sum(own.cpu_times()[:2]) - own_before) * 1000 / opts.messages, 3
        ),
    }
    if opts.server_pid:
        cpu = tree_cpu_seconds(opts.server_pid) - cpu_before
        result["cpu_ms_per_msg"] = round(cpu * 1000 / opts.messages, 3)
    if opts.db_pid:
        db_cpu = tree_cpu_seconds(opts.db_pid) - db_before
        result["db_cpu_ms_per_msg"] = round(db_cpu * 1000 / opts.messages, 3)
    return result


# --- sync delivery latency -----------------------------------------------------------------


@dataclass
class DeliveryTracker:
    """Matches sync-delivered events back to their send start time, per listener."""

    listeners: int
    sent_at: dict[str, float] = field(default_factory=dict)
    seen: dict[str, set[int]] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def expect(self, body: str) -> asyncio.Event:
        """Register a body just before sending it; the event fires once all listeners saw it."""
        self.sent_at[body] = time.perf_counter()
        self.seen[body] = set()
        self.done[body] = asyncio.Event()
        return self.done[body]

    def observe(self, listener: int, body: str, now: float) -> None:
        """Record first arrival of `body` at `listener`; ignores unrelated or repeated events."""
        seen = self.seen.get(body)
        if seen is None or listener in seen:
            return
        seen.add(listener)
        self.latencies.append(now - self.sent_at[body])
        if len(seen) == self.listeners:
            self.done[body].set()


def timeline_bodies(sync: JsonDict, room_id: str) -> list[str]:
    """Message bodies in this room's timeline section of a /sync response."""
    room = sync.get("rooms", {}).get("join", {}).get(room_id, {})
    events = room.get("timeline", {}).get("events", [])
    return [str(e.get("content", {}).get("body", "")) for e in events]


async def sync_once(client: Client, user: User, since: str | None) -> JsonDict:
    """One /sync call: small initial sync, or a 30 s long-poll from `since`."""
    params = {"filter": INITIAL_FILTER}
    if since is not None:
        params = {"filter": POLL_FILTER, "since": since, "timeout": str(SYNC_TIMEOUT_MS)}
    resp = await client.request("GET", "/sync", token=user.token, params=params)
    data: JsonDict = resp.json()
    return data


async def listen(
    client: Client, user: User, index: int, room_id: str, since: str, tracker: DeliveryTracker
) -> None:
    """Long-poll forever (until cancelled), reporting each timeline body's arrival time."""
    while True:
        data = await sync_once(client, user, since)
        now = time.perf_counter()
        since = data["next_batch"]
        for body in timeline_bodies(data, room_id):
            tracker.observe(index, body, now)


async def drive_sender(
    client: Client, sender: User, room_id: str, tracker: DeliveryTracker, opts: Options
) -> int:
    """Send one message at a time, waiting for delivery to all listeners; returns misses."""
    missed = 0
    tag = uuid.uuid4().hex[:8]
    for i in range(opts.sync_messages):
        body = f"sync {tag} {i}"
        done = tracker.expect(body)
        await send_message(client, sender, room_id, body)
        try:
            await asyncio.wait_for(done.wait(), timeout=SYNC_TIMEOUT_MS / 1000)
        except TimeoutError:
            missed += tracker.listeners - len(tracker.seen[body])
        await asyncio.sleep(opts.sync_pause_ms / 1000)
    return missed


async def sync_level(
    client: Client, users: list[User], room_id: str, listeners: int, opts: Options
) -> JsonDict:
    """Delivery latency with `listeners` long-polling users and user 0 sending."""
    tracker = DeliveryTracker(listeners=listeners)
    chosen = users[1 : listeners + 1]
    initial = await asyncio.gather(*(sync_once(client, u, None) for u in chosen))
    tasks = [
        asyncio.create_task(listen(client, u, i, room_id, s["next_batch"], tracker))
        for i, (u, s) in enumerate(zip(chosen, initial, strict=True))
    ]
    await asyncio.sleep(0.5)  # let every listener park in its long-poll first
    try:
        missed = await drive_sender(client, users[0], room_id, tracker, opts)
    finally:
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if any(not isinstance(f, asyncio.CancelledError) for f in failures):
        log(f"sync listener errors: {failures[:3]}")
    return {
        "p50_ms": round(percentile(tracker.latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(tracker.latencies, 99) * 1000, 2),
        "samples": len(tracker.latencies),
        "missed": missed,
    }


# --- orchestration -------------------------------------------------------------------------


async def run_benchmark(opts: Options) -> JsonDict:
    """Setup, then send levels, then sync levels; RSS is sampled throughout."""
    pool = max(opts.levels + opts.sync_listeners) + SETUP_CONCURRENCY + 4
    client = Client(opts.url, opts.max_retries, pool)
    sampler = RssSampler(opts.server_pid) if opts.server_pid else None
    if sampler:
        sampler.start()
    try:
        return await measure(client, opts, sampler)
    finally:
        await client.close()
        if sampler:
            await sampler.stop()


async def measure(client: Client, opts: Options, sampler: RssSampler | None) -> JsonDict:
    """The measured phases, in order; returns the report object."""
    log(f"registering {opts.users} users on {opts.url}")
    users = await register_users(client, opts.users)
    room_id = await setup_room(client, users)
    log(f"room {room_id} ready; warming up with {opts.warmup} messages")
    await send_burst(client, users, room_id, min(4, len(users)), opts.warmup)
    send: JsonDict = {}
    for level in opts.levels:
        send[str(level)] = await send_level(client, users, room_id, level, opts)
        log(f"send c={level}: {send[str(level)]}")
    sync: JsonDict = {}
    for listeners in opts.sync_listeners:
        sync[str(listeners)] = await sync_level(client, users, room_id, listeners, opts)
        log(f"sync listeners={listeners}: {sync[str(listeners)]}")
    return {
        "server": opts.url,
        "label": opts.label,
        "users": opts.users,
        "send": send,
        "sync": sync,
        "peak_rss_mb": await sampler.stop() if sampler else None,
        "rate_limited_retries": client.counters.rate_limited,
        "errors": client.counters.errors,
    }


def check_local(url: str) -> str:
    """Refuse any target but loopback: this tool generates load and must never leave the box."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        raise SystemExit(f"unsupported URL scheme in {url!r}")
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError(host)
        except ValueError:
            raise SystemExit(f"refusing non-loopback target {host!r}") from None
    return url.rstrip("/")


def int_list(text: str) -> list[int]:
    """Parse '1,16,64' into positive ints."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need positive integers, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """CLI definition; defaults are the comparison settings used for Candor vs Synapse."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("url", help="homeserver base URL, e.g. http://127.0.0.1:8008")
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--levels", type=int_list, default=[1, 16, 64], help="send concurrency")
    p.add_argument("--messages", type=int, default=2000, help="messages per send level")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured messages first")
    p.add_argument("--sync-listeners", type=int_list, default=[1, 16])
    p.add_argument("--sync-messages", type=int, default=200, help="per listener level")
    p.add_argument("--sync-pause-ms", type=float, default=5.0)
    p.add_argument("--server-pid", type=int, default=None, help="sample RSS/CPU of this tree")
    p.add_argument(
        "--db-pid",
        type=int,
        default=None,
        help="database server pid (e.g. the postmaster): report its CPU per message separately",
    )
    p.add_argument("--label", default=None)
    p.add_argument("--max-seconds", type=float, default=1800.0, help="overall time bound")
    p.add_argument("--max-retries", type=int, default=20, help="per request, for 429s")
    a = p.parse_args(argv)
    if a.users < max(a.sync_listeners) + 1 or a.users < 1:
        p.error("--users must exceed the largest --sync-listeners (user 0 is the sender)")
    return Options(
        url=check_local(a.url),
        users=a.users,
        levels=a.levels,
        messages=a.messages,
        warmup=a.warmup,
        sync_listeners=a.sync_listeners,
        sync_messages=a.sync_messages,
        sync_pause_ms=a.sync_pause_ms,
        server_pid=a.server_pid,
        db_pid=a.db_pid,
        label=a.label,
        max_seconds=a.max_seconds,
        max_retries=a.max_retries,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run under an overall deadline and print exactly one JSON object."""
    opts = parse_args(argv)
    for pid in (opts.server_pid, opts.db_pid):
        if pid and not psutil.pid_exists(pid):
            raise SystemExit(f"no process with pid {pid}")
    try:
        report = asyncio.run(asyncio.wait_for(run_benchmark(opts), opts.max_seconds))
    except (MatrixError, aiohttp.ClientError) as exc:  # before TimeoutError: see Client._send
        log(f"benchmark failed: {exc!r}")
        return 1
    except TimeoutError:
        log(f"gave up after --max-seconds={opts.max_seconds}")
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
