"""The report scheduler inside a real `candor serve`: when periods have ended it produces
each one's report once, and its delivery worker gets each to a partner receiver that fails
twice and verifies the third try with the `standardwebhooks` library; a restart produces
and sends nothing again.

On SQLite: that each period is produced once on each engine (the unique key, racing
workers, restarts) is proved in-process by tests/reports/test_scheduler.py; this test is
about the processes (the scheduler inside `candor serve`, a real receiver)."""

import asyncio
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from standardwebhooks import Webhook

from tests.e2e.conftest import ServerProcess
from tests.e2e.oauth_flow import candor
from tests.e2e.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.engines("sqlite"),
    pytest.mark.loopback_webhooks,
    pytest.mark.timeout(180),
]

FLIX = ["--name", "Flix", "--redirect-uri", "https://flix.example/cb", "--domain", "flix.example"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver(fail_first=2) as server:
        yield server


async def _sql(server: ServerProcess, statement: str, *args: object) -> list[tuple[object, ...]]:
    """Run one statement on the server's database (numbered `$n` parameters)."""
    if server.engine == "sqlite":
        db = sqlite3.connect(server.database_url.removeprefix("sqlite:///"))
        try:
            with db:
                sql = statement
                for n in range(len(args), 0, -1):
                    sql = sql.replace(f"${n}", "?")
                return [tuple(r) for r in db.execute(sql, args).fetchall()]
        finally:
            db.close()
    conn = await asyncpg.connect(server.database_url)
    try:
        return [tuple(r) for r in await conn.fetch(statement, *args)]
    finally:
        await conn.close()


async def _wait_for(predicate: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def test_the_scheduler_reports_each_ended_period_once_and_delivers_on_the_third_try(
    server: ServerProcess, receiver: WebhookReceiver
) -> None:
    made = json.loads(candor(server, "partner", "create", *FLIX, "--scope", "share", "--json"))
    client_id = made["client_id"]
    candor(server, "partner", "approve", client_id)
    out = candor(server, "partner", "webhook", client_id, "--url", receiver.url)
    secret = next(w for w in out.split() if w.startswith("whsec_"))
    # The app registered five weeks ago: two or three 14-day periods have ended since.
    registered = datetime.now(UTC) - timedelta(days=35)
    await _sql(
        server,
        "UPDATE partner_apps SET created_ts = $1 WHERE client_id = $2",
        int(registered.timestamp() * 1000),
        client_id,
    )
    day = (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
    for person in ("@a:localhost", "@b:localhost"):
        await _sql(
            server,
            "INSERT INTO share_events (client_id, day, interface, surface, variant, kind, "
            "person, recipients, card_id, ts) VALUES ($1, $2, 'web', 'player', 'a', 1, $3, 2, "
            "'card_x', 0)",
            client_id,
            day,
            person,
        )

    server.env |= {
        "CANDOR_REPORTS__INTERVAL_S": "0.5",
        "CANDOR_REPORTS__WEBHOOK_RETRY_S": "[0, 0.3, 0.3, 0.3]",
    }
    server.restart()

    def delivered() -> set[str]:
        return {h["webhook-id"] for _, h, status in receiver.requests if status == 204}

    async def reports() -> list[tuple[object, ...]]:
        return await _sql(
            server,
            "SELECT report_id, period_start, period_end FROM reports WHERE client_id = $1",
            client_id,
        )

    await _wait_for(lambda: len(delivered()) >= 2, within_s=60)
    made_reports = await reports()
    await _wait_for(lambda: len(delivered()) == len(made_reports), within_s=30)
    assert 2 <= len(made_reports) <= 3
    assert len({(r[1], r[2]) for r in made_reports}) == len(made_reports)

    by_id: dict[str, list[tuple[bytes, dict[str, str], int]]] = defaultdict(list)
    for request in receiver.requests:
        by_id[request[1]["webhook-id"]].append(request)
    assert len(by_id) == len(made_reports)
    sent_reports = set()
    for tries in by_id.values():
        assert [status for _, _, status in tries] == [500, 500, 204]
        assert len({body for body, _, _ in tries}) == 1  # the same bytes every time
        body, headers, _ = tries[-1]
        payload = Webhook(secret).verify(body, headers)
        assert payload["type"] == "report.created"
        sent_reports.add(payload["data"]["report"]["report_id"])
    assert sent_reports == {r[0] for r in made_reports}
    # The receiver answered before the server recorded its answer: wait (bounded) for it.
    for _ in range(100):
        attempts = await _sql(
            server,
            "SELECT d.status, count(*) FROM report_deliveries d JOIN report_delivery_attempts a "
            "ON a.delivery_id = d.delivery_id WHERE d.client_id = $1 GROUP BY d.status",
            client_id,
        )
        if attempts == [("delivered", 3 * len(made_reports))]:
            break
        await asyncio.sleep(0.1)
    assert attempts == [("delivered", 3 * len(made_reports))]

    # A restart finds every ended period done: nothing is produced or sent again.
    requests_before = len(receiver.requests)
    server.restart()
    await asyncio.sleep(2.0)
    assert len(await reports()) == len(made_reports)
    assert len(receiver.requests) == requests_before
