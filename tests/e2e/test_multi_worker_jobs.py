"""Two real `candor serve` processes on one PostgreSQL database, as two machines behind a
load balancer: both append to one access log, which stays one consistent tree that the
witness (`candor audit verify`) accepts from either worker and `candor audit check`
recomputes; both run the report scheduler, and each ended period is produced once and its
webhook delivered once; with a shared Redis, the login back-off counts failures made on
either worker; a worker with a signing key of its own refuses to start.

Each worker has its own data dir, holding copies of the first one's `transparency.key`
and `secret.key` (docs/configuration.md, "Several workers"). The second starts after the
first has migrated the database. PostgreSQL only: SQLite is one process.
"""

import asyncio
import json
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from candor.transparency.keys import KEY_FILE
from tests.e2e.conftest import ALLOW_PRIVATE_WEBHOOKS, ServerProcess, _free_port
from tests.e2e.oauth_flow import candor
from tests.e2e.webhook_receiver import WebhookReceiver, running_receiver
from tests.helpers.databases import create_pg_database, drop_pg_database

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

V3 = "/_matrix/client/v3"
TLOG = "/_candor/transparency/v1"
REDIS_URL = "redis://127.0.0.1:6379/0"
FLIX = ["--name", "Flix", "--redirect-uri", "https://flix.example/cb", "--domain", "flix.example"]


class Pair:
    """Two workers on one database; the CLI runs with the first one's data dir."""

    def __init__(self, first: ServerProcess, second: ServerProcess) -> None:
        self.first, self.second = first, second

    @property
    def both(self) -> tuple[ServerProcess, ServerProcess]:
        return self.first, self.second

    def cli(self, *args: str) -> str:
        return candor(self.first, *args)

    def db_args(self) -> list[str]:
        return ["--data-dir", str(self.first.data_dir), "--database-url", self.first.database_url]

    async def sql(self, statement: str, *args: object) -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(self.first.database_url)
        try:
            return [tuple(r) for r in await conn.fetch(statement, *args)]
        finally:
            await conn.close()


@asynccontextmanager
async def two_workers(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Pair]:
    name = f"candor_e2e_{secrets.token_hex(6)}"
    database_url = await create_pg_database(name)
    dirs = [tmp_path / "worker1", tmp_path / "worker2"]
    servers = [ServerProcess(_free_port(), d, database_url, "postgresql") for d in dirs]
    try:
        for d, srv in zip(dirs, servers, strict=True):
            d.mkdir()
            srv.env |= env
        servers[0].start()  # migrates, and makes the keys the second one shares
        for key in (KEY_FILE, "secret.key"):
            shutil.copy2(dirs[0] / key, dirs[1] / key)
        servers[1].start()
        yield Pair(servers[0], servers[1])
    finally:
        for srv in servers:
            srv.stop()
        await drop_pg_database(name)


@asynccontextmanager
async def redis_keys_dropped(prefix: str) -> AsyncIterator[None]:
    """Delete the shared store's keys under `prefix` afterwards."""
    try:
        yield
    finally:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver(fail_first=1) as server:
        yield server


async def _admin_token(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post(
        f"{V3}/login", json={"type": "m.login.password", "user": "root", "password": "pw-root"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _until(check: Callable[[], Awaitable[bool]], within_s: float) -> None:
    """Poll `check` (bounded) until it holds."""
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _checkpoint_size(srv: ServerProcess) -> int:
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        note = (await http.get(f"{TLOG}/checkpoint")).text
    return int(note.split("\n")[1])


async def _admin_reads(http: httpx.AsyncClient, admin: dict[str, str], room: str, n: int) -> None:
    for i in range(n):
        r = await http.get(
            f"/_candor/admin/v1/rooms/{room}/messages",
            params={"justification": f"multi-worker test {i}"},
            headers=admin,
        )
        assert r.status_code == 200, r.text


async def test_both_workers_append_to_one_log_that_the_witness_accepts(tmp_path: Path) -> None:
    prefix = f"candor-e2e-{secrets.token_hex(6)}"
    env = {
        "CANDOR_TRANSPARENCY__CHECKPOINT_INTERVAL_MS": "200",
        "CANDOR_RATE_LIMIT__STORAGE_URL": REDIS_URL,
        "CANDOR_RATE_LIMIT__KEY_PREFIX": prefix,
    }
    async with two_workers(tmp_path, env) as pair, redis_keys_dropped(prefix):
        pair.cli("user", "create", "root", "--password", "pw-root", "--admin", *pair.db_args())
        first, second = pair.both
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=20) as one,
            httpx.AsyncClient(base_url=second.base_url, timeout=20) as two,
        ):
            r = await one.post(
                f"{V3}/register",
                json={"username": "u1", "password": "pw", "auth": {"type": "m.login.dummy"}},
            )
            user = {"Authorization": f"Bearer {r.json()['access_token']}"}
            room = (
                await one.post(f"{V3}/createRoom", json={"preset": "public_chat"}, headers=user)
            ).json()["room_id"]
            admin_one, admin_two = await _admin_token(one), await _admin_token(two)

            state = tmp_path / "witness.json"
            sizes: list[int] = []
            # Rounds of reads on both workers at once; after each, the witness asks one of
            # them in turn, keeping one state: it must see one growing, consistent tree.
            for round_no, asked in enumerate((first, second, first), start=1):
                await asyncio.gather(
                    _admin_reads(one, admin_one, room, 10), _admin_reads(two, admin_two, room, 10)
                )
                want = 20 * round_no

                async def signed(srv: ServerProcess = asked, size: int = want) -> bool:
                    return await _checkpoint_size(srv) >= size

                await _until(signed, within_s=10)
                out = pair.cli("audit", "verify", "--server", asked.base_url, "--state", str(state))
                assert f"size {want}" in out
                sizes.append(json.loads(state.read_text())["size"])
            assert sizes == [20, 40, 60]
            # Both workers publish one key and sign one tree: the same latest checkpoint.
            keys = {(await http.get(f"{TLOG}/key")).text for http in (one, two)}
            notes = {(await http.get(f"{TLOG}/checkpoint")).text for http in (one, two)}
            assert len(keys) == 1
            assert len(notes) == 1
        checked = pair.cli("audit", "check", *pair.db_args())
        assert "60 entries" in checked

        # The login back-off counts in the shared Redis: five wrong passwords, alternating
        # between the workers, start the delay on both (one process alone has seen three).
        async with (
            httpx.AsyncClient(base_url=first.base_url, timeout=20) as one,
            httpx.AsyncClient(base_url=second.base_url, timeout=20) as two,
        ):
            wrong = {"type": "m.login.password", "user": "mallory", "password": "guess"}
            for http in (one, two, one, two, one):
                assert (await http.post(f"{V3}/login", json=wrong)).status_code == 403
            for http in (two, one):
                r = await http.post(f"{V3}/login", json=wrong)
                assert r.status_code == 429, r.text
                assert 0 < r.json()["retry_after_ms"] <= 1000

        # A third machine that generated a transparency.key of its own refuses to start:
        # its checkpoints would fork the log in every witness's eyes.
        third_dir = tmp_path / "worker3"
        third_dir.mkdir()
        shutil.copy2(first.data_dir / "secret.key", third_dir / "secret.key")
        third = ServerProcess(_free_port(), third_dir, first.database_url, "postgresql")
        third.env |= env
        try:
            with pytest.raises(RuntimeError, match="signed with another key"):
                third.start()
        finally:
            third.stop()
        assert all(srv.proc is not None and srv.proc.poll() is None for srv in pair.both)


async def test_each_period_is_reported_once_and_delivered_once_with_two_schedulers(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    env = {
        "CANDOR_REPORTS__INTERVAL_S": "0.2",
        "CANDOR_REPORTS__WEBHOOK_RETRY_S": "[0, 0.2, 0.2]",
        ALLOW_PRIVATE_WEBHOOKS: "true",
    }
    async with two_workers(tmp_path, env) as pair:
        made = json.loads(pair.cli("partner", "create", *FLIX, "--scope", "share", "--json"))
        client_id = made["client_id"]
        pair.cli("partner", "approve", client_id)
        pair.cli("partner", "webhook", client_id, "--url", receiver.url)
        day = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
        await pair.sql(
            "INSERT INTO share_events (client_id, day, interface, surface, variant, kind, "
            "person, recipients, card_id, ts) VALUES ($1, $2, 'web', 'player', 'a', 1, "
            "'@a:localhost', 2, 'card_x', 0)",
            client_id,
            day,
        )
        # Registered 43 days ago: two to four aligned 14-day periods have ended, and both
        # schedulers (ticking every 0.2 s) see them at the same moment.
        registered = datetime.now(UTC) - timedelta(days=43)
        await pair.sql(
            "UPDATE partner_apps SET created_ts = $1 WHERE client_id = $2",
            int(registered.timestamp() * 1000),
            client_id,
        )

        def delivered() -> list[str]:
            return [h["webhook-id"] for _, h, status in receiver.requests if status == 204]

        async def some_delivered() -> bool:
            return len(delivered()) >= 2

        await _until(some_delivered, within_s=30)
        await asyncio.sleep(1.5)  # both schedulers tick several more times: nothing new
        reports = await pair.sql(
            "SELECT period_start, period_end FROM reports WHERE client_id = $1", client_id
        )
        assert 2 <= len(reports) <= 4
        assert len(set(reports)) == len(reports)  # each period once
        ids = delivered()
        assert len(ids) == len(set(ids)) == len(reports)  # each report delivered once
        # Each delivery: one failed try, then one success, none posted twice.
        assert sorted(receiver.tries.values()) == [2] * len(reports)

        want = [1] * len(reports) + [2] * len(reports)

        async def attempts() -> list[int]:
            rows = await pair.sql(
                "SELECT a.attempt FROM report_delivery_attempts a JOIN report_deliveries d "
                "ON a.delivery_id = d.delivery_id WHERE d.client_id = $1",
                client_id,
            )
            return sorted(int(str(r[0])) for r in rows)

        async def all_recorded() -> bool:
            return await attempts() == want

        # The receiver answered before a worker recorded the answer: wait (bounded).
        await _until(all_recorded, within_s=5)
        # Both processes were alive all along (a crash would have hidden a race).
        assert all(srv.proc is not None and srv.proc.poll() is None for srv in pair.both)
