"""Webhook deliveries on both engines, to a real HTTP receiver on 127.0.0.1.

The receivers listen on loopback, so these servers run with the operator setting
`webhooks.allow_private_networks` on; the tests of the default (issue 13 item 5: nothing
inside the operator's network is reached) build their own server without it.

The receiver verifies every request with the `standardwebhooks` library, as a partner
would. The clock is a FakeClock started at the real time (the library rejects timestamps
more than five minutes off) and moved by hand past each retry delay.
"""

import asyncio
import base64
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import insert, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from candor.config import Settings, WebhookSettings
from candor.core.canonical_json import encode_canonical
from candor.core.clock import FakeClock
from candor.core.outbound import Resolver
from candor.matrix.context import Homeserver
from candor.reports import delivery_repository as repo
from candor.reports.deliver import DEFAULT_SCHEDULE, DeliveryWorker
from candor.reports.delivery_repository import Attempt, Delivery
from candor.reports.webhook_secrets import new_webhook_secret, seal
from candor.store.db import Database
from candor.store.models.partners import PartnerApp
from candor.store.models.reports import Report
from candor.wiring import build_delivery_worker, build_homeserver, build_services
from tests.partners.apps.conftest import registration

SCHEDULE = [0, 10, 10]  # ms: three attempts in all
MSG_ID = "msg_2f0c9d4a7b1e4c8f"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start_ms=time.time_ns() // 1_000_000)


def with_private_networks(settings: Settings, allowed: bool) -> Settings:
    return settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=allowed)})


@pytest.fixture
async def hs(settings: Settings, clock: FakeClock) -> AsyncIterator[Homeserver]:
    hs = build_homeserver(with_private_networks(settings, True), clock)
    yield hs
    await hs.db.dispose()


@dataclass
class Receiver:
    """A partner's webhook endpoint: verifies, then answers from a script of statuses."""

    secret: str
    script: list[int]
    delay_s: float = 0.0
    requests: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    verified: list[Any] = field(default_factory=list)
    rejected: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.requests.append((body, headers))
        await asyncio.sleep(self.delay_s)
        try:
            self.verified.append(Webhook(self.secret).verify(body, headers))
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=400, text="bad signature")
        status = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if 300 <= status < 400:
            return web.Response(status=status, headers={"Location": self.url + "/elsewhere"})
        return web.Response(status=status)

    async def elsewhere(self, request: web.Request) -> web.Response:
        raise AssertionError("a redirect was followed")


async def serve(routes: list[web.RouteDef]) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]
    return runner, port


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def make(secret: str, script: list[int], delay_s: float = 0.0) -> Receiver:
        r = Receiver(secret, script, delay_s)
        runner, port = await serve(
            [web.post("/hook", r.handle), web.post("/hook/elsewhere", r.elsewhere)]
        )
        runners.append(runner)
        r.url = f"http://127.0.0.1:{port}/hook"
        return r

    yield make
    for runner in runners:
        await runner.cleanup()


@dataclass
class Scene:
    hs: Homeserver
    clock: FakeClock
    client_id: str
    secret: str
    report_id: str
    report_body: str
    verify_key: bytes

    def worker(self, **kw: Any) -> DeliveryWorker:
        return build_delivery_worker(self.hs, retry_schedule_ms=kw.pop("schedule", SCHEDULE), **kw)

    async def set_webhook(self, url: str | None) -> None:
        async with self.hs.db.write() as conn:
            await conn.execute(
                update(PartnerApp)
                .where(PartnerApp.client_id == self.client_id)
                .values(webhook_url=url)
            )

    async def enqueue(self, url: str, delivery_id: str = MSG_ID) -> None:
        async with self.hs.db.write() as conn:
            await repo.enqueue(
                conn,
                delivery_id=delivery_id,
                report_id=self.report_id,
                client_id=self.client_id,
                url=url,
                now_ms=self.clock.now_ms(),
            )

    async def delivery(self, delivery_id: str = MSG_ID) -> Delivery:
        async with self.hs.db.read() as conn:
            found = await repo.get_delivery(conn, delivery_id)
        assert found is not None
        return found

    async def attempts(self, delivery_id: str = MSG_ID) -> list[Attempt]:
        async with self.hs.db.read() as conn:
            return list(await repo.list_attempts(conn, delivery_id))


@pytest.fixture
async def scene(hs: Homeserver, clock: FakeClock) -> Scene:
    return await make_scene(hs, clock)


@pytest.fixture
async def strict_scene(settings: Settings, clock: FakeClock) -> AsyncIterator[Scene]:
    """A scene on a server with the default settings: no private networks."""
    hs = build_homeserver(with_private_networks(settings, False), clock)
    yield await make_scene(hs, clock)
    await hs.db.dispose()


async def make_scene(hs: Homeserver, clock: FakeClock) -> Scene:
    app = await build_services(hs).apps.create(**registration())
    client_id = app.app.client_id
    secret = new_webhook_secret()
    key = SigningKey.generate()
    report = {
        "format": "candor.engagement-report/v1",
        "report_id": "rpt_deliver1",
        "issuer": "test.local",
        "app": {"client_id": client_id, "name": "Flix"},
        "period": {"start": "2026-11-02", "end": "2026-11-15", "days": 14, "timezone": "UTC"},
        "rows": [{"day": "2026-11-02", "sends": 12, "ctr": 0.2333, "suppressed": False}],
    }
    body = encode_canonical(report)
    signature = {
        "format": "candor.report-signature/v1",
        "algorithm": "Ed25519",
        "report_id": "rpt_deliver1",
        "sha256": hashlib.sha256(body).hexdigest(),
        "signature": base64.b64encode(key.sign(body).signature).decode(),
    }
    async with hs.db.write() as conn:
        await conn.execute(
            update(PartnerApp)
            .where(PartnerApp.client_id == client_id)
            .values(webhook_secret_sealed=seal(secret, hs.token_key))
        )
        await conn.execute(
            insert(Report).values(
                report_id="rpt_deliver1",
                client_id=client_id,
                period_start="2026-11-02",
                period_end="2026-11-15",
                agreement_version=1,
                privacy="k_threshold",
                epsilon=None,
                body=body.decode(),
                signature=encode_canonical(signature).decode(),
                created_ts=clock.now_ms(),
            )
        )
    return Scene(hs, clock, client_id, secret, "rpt_deliver1", body.decode(), bytes(key.verify_key))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_fails_twice_then_delivers_with_the_same_webhook_id(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [500, 500, 204])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    worker = scene.worker()

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # not due for 10 ms
    assert (await scene.delivery()).status == "pending"
    scene.clock.advance(0.010)
    assert await worker.run_once() == 1
    scene.clock.advance(0.010)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    attempts = await scene.attempts()
    assert [a.status_code for a in attempts] == [500, 500, 204]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert attempts[2].error is None
    assert all(a.duration_ms >= 0 for a in attempts)
    assert [h["webhook-id"] for _, h in rx.requests] == [MSG_ID] * 3
    assert rx.rejected == 0
    assert len(rx.verified) == 3
    # Every retry carries the same body (the event's timestamp is the enqueue time).
    assert len({body for body, _ in rx.requests}) == 1
    delivery = await scene.delivery()
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert delivery.delivered_ts == attempts[2].ts == scene.clock.now_ms()


async def test_the_payload_carries_the_report_and_a_signature_that_verifies(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [200])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    assert await scene.worker().run_once() == 1

    body, headers = rx.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - scene.clock.now_ms() // 1000) <= 1
    assert b" " not in body.replace(b"candor.engagement-report", b"")  # compact
    payload = rx.verified[0]
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "report.created"
    assert payload["timestamp"].endswith("Z")
    assert set(payload["data"]) == {"report", "signature"}
    # The receiver can check the report's own Ed25519 signature over its canonical bytes.
    report_bytes = encode_canonical(payload["data"]["report"])
    assert report_bytes.decode() == scene.report_body
    assert scene.report_body.encode() in body  # spliced byte for byte
    sig = payload["data"]["signature"]
    assert sig["sha256"] == hashlib.sha256(report_bytes).hexdigest()
    VerifyKey(scene.verify_key).verify(report_bytes, base64.b64decode(sig["signature"]))


async def test_always_failing_receiver_ends_failed_after_the_schedule(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [503])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    worker = scene.worker()
    made = 0
    for _ in range(6):
        made += await worker.run_once()
        scene.clock.advance(0.010)
    assert made == len(SCHEDULE)
    assert [a.status_code for a in await scene.attempts()] == [503] * len(SCHEDULE)
    delivery = await scene.delivery()
    assert delivery.status == "failed"
    assert delivery.delivered_ts is None
    assert len(rx.requests) == len(SCHEDULE)
    scene.clock.advance(3600)
    assert await worker.run_once() == 0


async def test_default_schedule_is_the_specs_suggestion(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    assert DEFAULT_SCHEDULE == (
        0,
        5_000,
        300_000,
        1_800_000,
        7_200_000,
        18_000_000,
        36_000_000,
        36_000_000,
    )
    rx: Receiver = await receiver_factory(scene.secret, [500])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    worker = build_delivery_worker(scene.hs)
    assert await worker.run_once() == 1
    before = scene.clock.now_ms()
    assert (await scene.delivery()).next_attempt_ts == before + 5_000


async def test_connection_refused_is_an_error_attempt(scene: Scene) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    await scene.set_webhook(url)
    await scene.enqueue(url)
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.status_code is None
    assert attempt.error == "connection failed"  # not the exception text
    delivery = await scene.delivery()
    assert delivery.status == "pending"
    assert delivery.next_attempt_ts == scene.clock.now_ms() + SCHEDULE[1]


async def test_a_slow_receiver_times_out(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204], delay_s=1.0)
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    assert await scene.worker(timeout_s=0.2).run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.status_code is None
    assert attempt.error == "timed out after 0.2 s"
    assert 150 <= attempt.duration_ms < 1000


async def test_a_redirect_is_not_followed(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [302])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.status_code == 302
    assert attempt.error == "redirects are not followed"
    assert len(rx.requests) == 1  # /hook/elsewhere was never asked
    assert (await scene.delivery()).status == "pending"


async def test_a_new_worker_resumes_a_pending_delivery(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [500, 204])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    assert await scene.worker().run_once() == 1
    await scene.hs.db.dispose()  # the process goes away

    scene.clock.advance(0.010)
    restarted = build_homeserver(scene.hs.settings, scene.clock)
    try:
        worker = build_delivery_worker(restarted, retry_schedule_ms=SCHEDULE)
        assert await worker.run_once() == 1
        async with restarted.db.read() as conn:
            delivery = await repo.get_delivery(conn, MSG_ID)
            attempts = await repo.list_attempts(conn, MSG_ID)
    finally:
        await restarted.db.dispose()
    assert delivery is not None
    assert delivery.status == "delivered"
    assert [a.status_code for a in attempts] == [500, 204]
    assert [h["webhook-id"] for _, h in rx.requests] == [MSG_ID, MSG_ID]


async def test_a_crash_after_the_claim_retries_after_the_lease(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url)
    async with scene.hs.db.write() as conn:  # a worker claims, then dies before sending
        [claimed] = await repo.claim_due(conn, scene.clock.now_ms(), 60_000, 10)
    assert claimed.delivery_id == MSG_ID
    worker = scene.worker()
    assert await worker.run_once() == 0  # leased: nobody else takes it yet
    assert rx.requests == []
    scene.clock.advance(60)
    assert await worker.run_once() == 1
    assert (await scene.delivery()).status == "delivered"
    assert [a.attempt for a in await scene.attempts()] == [1]


async def test_a_claimed_delivery_is_not_claimed_twice(scene: Scene) -> None:
    await scene.enqueue("https://hooks.flix.example/a", delivery_id="msg_a")
    await scene.enqueue("https://hooks.flix.example/b", delivery_id="msg_b")
    now = scene.clock.now_ms()
    async with scene.hs.db.write() as conn:
        first = await repo.claim_due(conn, now, 1_000, 1)
    async with scene.hs.db.write() as conn:
        second = await repo.claim_due(conn, now, 1_000, 10)
    async with scene.hs.db.write() as conn:
        third = await repo.claim_due(conn, now, 1_000, 10)
    assert [d.delivery_id for d in first] == ["msg_a"]
    assert [d.delivery_id for d in second] == ["msg_b"]
    assert third == []


async def test_concurrent_claims_on_postgresql_skip_locked_rows(scene: Scene) -> None:
    if scene.hs.db.is_sqlite:
        pytest.skip("SQLite serialises writers with a process lock; SKIP LOCKED is PostgreSQL's")
    await scene.enqueue("https://hooks.flix.example/a", delivery_id="msg_a")
    now = scene.clock.now_ms()
    async with scene.hs.db.write() as one, scene.hs.db.write() as two:
        a = await repo.claim_due(one, now, 1_000, 10)
        b = await asyncio.wait_for(repo.claim_due(two, now, 1_000, 10), 5)
    assert [d.delivery_id for d in a] == ["msg_a"]
    assert b == []


async def test_a_stale_worker_cannot_record_an_attempt_twice(scene: Scene) -> None:
    await scene.enqueue("https://hooks.flix.example/a")
    fields: dict[str, Any] = {
        "delivery_id": MSG_ID,
        "attempt": 1,
        "ts": scene.clock.now_ms(),
        "url": "https://hooks.flix.example/a",
        "status_code": 500,
        "error": None,
        "duration_ms": 3,
        "status": "pending",
        "next_attempt_ts": scene.clock.now_ms(),
    }
    async with scene.hs.db.write() as conn:
        assert await repo.record_attempt(conn, **fields)
    async with scene.hs.db.write() as conn:
        assert not await repo.record_attempt(conn, **{**fields, "status_code": 204})
    assert [a.status_code for a in await scene.attempts()] == [500]


async def test_a_body_modified_in_transit_is_rejected(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204])

    async def tamper(request: web.Request) -> web.Response:
        body = (await request.read()).replace(b'"sends":12', b'"sends":99')
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
        async with httpx.AsyncClient() as client:
            answer = await client.post(rx.url, content=body, headers=headers)
        return web.Response(status=answer.status_code)

    runner, port = await serve([web.post("/relay", tamper)])
    try:
        url = f"http://127.0.0.1:{port}/relay"
        await scene.set_webhook(url)
        await scene.enqueue(url)
        assert await scene.worker().run_once() == 1
    finally:
        await runner.cleanup()
    assert rx.rejected == 1
    assert rx.verified == []
    body, headers = rx.requests[0]
    assert b'"sends":99' in body
    with pytest.raises(WebhookVerificationError):
        Webhook(scene.secret).verify(body, headers)
    # The same headers over the original bytes do verify: only the change broke it.
    Webhook(scene.secret).verify(body.replace(b'"sends":99', b'"sends":12'), headers)
    [attempt] = await scene.attempts()
    assert attempt.status_code == 400
    assert (await scene.delivery()).status == "pending"


async def test_the_current_webhook_url_is_used(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204])
    await scene.set_webhook(rx.url)
    await scene.enqueue(f"http://127.0.0.1:{free_port()}/old")
    assert await scene.worker().run_once() == 1
    delivery = await scene.delivery()
    assert delivery.status == "delivered"
    assert delivery.url == rx.url
    assert len(rx.verified) == 1


async def test_a_removed_webhook_url_fails_the_delivery(scene: Scene) -> None:
    await scene.enqueue("https://hooks.flix.example/a")
    await scene.set_webhook(None)
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.error == "the app's webhook URL was removed"
    assert attempt.status_code is None
    assert (await scene.delivery()).status == "failed"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.flix.example/a", "must be https"),
        ("ftp://hooks.flix.example/a", "must be an https URL"),
        ("https://user:pw@hooks.flix.example/a", "user name or password"),
        ("https://hooks.flix.example\\@evil.example/a", "backslash"),
        ("https://[::1/a", "well-formed"),
        ("https://hooks.flix.example:99999/a", "well-formed"),
        ("https://hooks.flix.example:abc/a", "well-formed"),
        ("https://[zz]/a", "well-formed"),
    ],
)
async def test_a_url_that_is_not_https_is_refused_at_send_time(
    scene: Scene, url: str, reason: str
) -> None:
    await scene.enqueue("https://hooks.flix.example/a")
    await scene.set_webhook(url)
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.error is not None
    assert reason in attempt.error
    assert (await scene.delivery()).status == "failed"


async def test_a_missing_secret_fails_the_delivery(scene: Scene) -> None:
    await scene.enqueue("https://hooks.flix.example/a")
    async with scene.hs.db.write() as conn:
        await conn.execute(
            update(PartnerApp)
            .where(PartnerApp.client_id == scene.client_id)
            .values(webhook_url="https://hooks.flix.example/a", webhook_secret_sealed=None)
        )
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.error == "the app has no webhook signing secret"
    assert (await scene.delivery()).status == "failed"


async def test_a_secret_sealed_under_another_key_fails_without_leaking(scene: Scene) -> None:
    other = seal(scene.secret, b"another server key")
    async with scene.hs.db.write() as conn:
        await conn.execute(
            update(PartnerApp)
            .where(PartnerApp.client_id == scene.client_id)
            .values(webhook_url="https://hooks.flix.example/a", webhook_secret_sealed=other)
        )
    await scene.enqueue("https://hooks.flix.example/a")
    assert await scene.worker().run_once() == 1
    [attempt] = await scene.attempts()
    assert attempt.error is not None
    assert "cannot be unsealed" in attempt.error
    assert other not in attempt.error
    assert scene.secret not in attempt.error


async def test_portal_lists_an_apps_deliveries_newest_first(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204])
    await scene.set_webhook(rx.url)
    await scene.enqueue(rx.url, delivery_id="msg_old")
    scene.clock.advance(1)
    await scene.enqueue(rx.url, delivery_id="msg_new")
    assert await scene.worker().run_once() == 2
    async with scene.hs.db.read() as conn:
        mine = await repo.list_deliveries(conn, scene.client_id)
        others = await repo.list_deliveries(conn, "app_someone_else")
    assert [d.delivery_id for d in mine] == ["msg_new", "msg_old"]
    assert {d.status for d in mine} == {"delivered"}
    assert others == []
    assert sorted(json.loads(b)["type"] for b, _ in rx.requests) == ["report.created"] * 2


async def test_start_and_stop_deliver_in_the_background(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204])
    await scene.set_webhook(rx.url)
    worker = scene.worker(poll_interval_s=0.05)
    await worker.start()
    try:
        await scene.enqueue(rx.url)
        worker.wake()
        for _ in range(100):  # bounded poll
            if (await scene.delivery()).status == "delivered":
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert (await scene.delivery()).status == "delivered"
    assert len(rx.verified) == 1


@pytest.mark.parametrize("schedule", [[], [5, 10], [0, -1]])
def test_a_bad_schedule_is_refused(hs: Homeserver, schedule: list[int]) -> None:
    with pytest.raises(ValueError, match="schedule"):
        build_delivery_worker(hs, retry_schedule_ms=schedule)


# --- nothing inside the operator's network (issue 13 item 5) -------------------------------


@dataclass
class Listener:
    """A bare TCP listener on 127.0.0.1 that counts connections: proof of no connection."""

    port: int = 0
    connections: int = 0


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        found.connections += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    yield found
    server.close()
    await server.wait_closed()


def resolver(table: dict[str, list[str]], calls: list[str]) -> Resolver:
    """A DNS that answers from `table` (a partner controls its own DNS answers)."""

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "0x7f.1", "2130706433", "localhost", "[::ffff:127.0.0.1]", "[::1]"],
)
async def test_by_default_a_loopback_webhook_is_refused_without_connecting(
    strict_scene: Scene, listener: Listener, host: str
) -> None:
    url = f"https://{host}:{listener.port}/hook"
    await strict_scene.set_webhook(url)
    await strict_scene.enqueue(url)
    assert await strict_scene.worker().run_once() == 1
    [attempt] = await strict_scene.attempts()
    assert (
        attempt.error
        == "the webhook URL must point to a public address, not a loopback or private one"
    )
    assert (await strict_scene.delivery()).status == "failed"
    assert listener.connections == 0


@pytest.mark.parametrize(
    "answers", [["127.0.0.1"], ["::1"], ["::ffff:127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"]]
)
async def test_a_name_resolving_inside_is_refused_at_connect_time(
    strict_scene: Scene, listener: Listener, answers: list[str]
) -> None:
    url = f"https://hooks.partner.example:{listener.port}/hook"
    await strict_scene.set_webhook(url)
    await strict_scene.enqueue(url)
    calls: list[str] = []
    worker = strict_scene.worker(resolve=resolver({"hooks.partner.example": answers}, calls))
    assert await worker.run_once() == 1
    [attempt] = await strict_scene.attempts()
    assert (attempt.status_code, attempt.error) == (None, "connection failed")
    assert calls == ["hooks.partner.example"]
    assert listener.connections == 0
    assert (await strict_scene.delivery()).status == "pending"  # DNS may change: retried


async def test_the_request_goes_to_the_checked_address_with_the_original_host(
    scene: Scene, receiver_factory: Callable[..., Any]
) -> None:
    """Pinned: the client connects to the address the check saw (the name does not resolve
    for anyone else), trying the next address when one refuses, and sends the URL's Host."""
    rx: Receiver = await receiver_factory(scene.secret, [204])
    port = rx.url.split(":")[2].split("/")[0]
    url = f"http://receiver.candor-test.localhost:{port}/hook"
    await scene.set_webhook(url)
    await scene.enqueue(url)
    calls: list[str] = []
    # Nothing listens on 127.0.0.2: the first address refuses, the second answers.
    table = {"receiver.candor-test.localhost": ["127.0.0.2", "127.0.0.1"]}
    assert await scene.worker(resolve=resolver(table, calls)).run_once() == 1
    assert (await scene.delivery()).status == "delivered"
    assert calls == ["receiver.candor-test.localhost"]
    [(_, headers)] = rx.requests
    assert headers["Host"] == f"receiver.candor-test.localhost:{port}"
    assert len(rx.verified) == 1


@pytest.mark.engines("postgresql")  # several processes on one SQLite file: unsupported
async def test_two_workers_on_one_database_deliver_each_report_once(
    scene: Scene, receiver_factory: Callable[..., Any], settings: Settings
) -> None:
    rx: Receiver = await receiver_factory(scene.secret, [204], delay_s=0.02)
    await scene.set_webhook(rx.url)
    ids = [f"msg_race{i:02d}" for i in range(40)]
    for delivery_id in ids:
        await scene.enqueue(rx.url, delivery_id=delivery_id)
    # The second worker has its own engine and pool, as another process would.
    other_db = Database(settings.sqlalchemy_url())
    try:
        one = scene.worker()
        two = DeliveryWorker(
            db=other_db,
            clock=scene.clock,
            token_key=scene.hs.token_key,
            allow_private_networks=True,
            retry_schedule_ms=SCHEDULE,
        )
        made = await asyncio.gather(one.run_once(), two.run_once())
    finally:
        await other_db.dispose()

    assert sum(made) == len(ids)
    assert sorted(h["webhook-id"] for _, h in rx.requests) == ids  # each one once
    for delivery_id in ids:
        assert [a.attempt for a in await scene.attempts(delivery_id)] == [1]
        assert (await scene.delivery(delivery_id)).status == "delivered"
