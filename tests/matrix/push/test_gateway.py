"""Push gateway delivery to a real HTTP receiver on 127.0.0.1 (allowed by the operator's
`push.allow_private_networks`, on only here): the Sygnal payload, retries with backoff
after a 500, nothing readable from encrypted rooms, event_id_only, rejected pushkeys, the
address guard at send time, and a queue that survives a restart. Both engines."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from candor.app import create_app
from candor.config import PushSettings, Settings
from candor.core.clock import FakeClock
from candor.matrix.push import repository as repo
from candor.matrix.push.gateway import PushGatewayWorker, PushRetry
from candor.store.db import Database
from candor.wiring import build_push_worker
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import SPEC_ROOT, spec_event_hooks, spec_index
from tests.matrix.push.gateway_receiver import PushGateway, running_gateway

# The request body of the push gateway API's POST /_matrix/push/v1/notify.
NOTIFY_BODY = (
    SPEC_ROOT / "api/push-gateway/push_notifier.yaml"
).as_uri() + "#/paths/~1notify/post/requestBody/content/application~1json/schema"


def notifications(gateway: PushGateway) -> list[Any]:
    """What the gateway received, each body checked against the push gateway API."""
    for _, body, _ in gateway.received:
        errors = spec_index().errors(NOTIFY_BODY, body)
        assert not errors, [e.message for e in errors]
    return gateway.notifications


@dataclass
class Server:
    app: FastAPI
    http: httpx.AsyncClient
    clock: FakeClock

    def worker(self, **changes: Any) -> PushGatewayWorker:
        worker = build_push_worker(self.app.state.homeserver, self.app.state.services)
        for name, value in changes.items():
            setattr(worker, f"_{name}", value)
        return worker

    async def queued(self) -> int:
        async with self.app.state.homeserver.db.read() as conn:
            return await repo.count_queued(conn)


def push_settings(settings: Settings, **push: Any) -> Settings:
    values: dict[str, Any] = {"allow_private_networks": True, "retry_initial_s": 1.0, **push}
    return settings.model_copy(update={"push": PushSettings(**values)})


@pytest.fixture
async def server(settings: Settings, clock: FakeClock) -> AsyncIterator[Server]:
    app = create_app(push_settings(settings), clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as http:
            yield Server(app, http, clock)


@pytest.fixture
def gateway() -> Any:
    with running_gateway() as found:
        yield found


async def people(server: Server) -> tuple[MatrixTestClient, MatrixTestClient, MatrixTestClient]:
    alice = await MatrixTestClient.register(server.http, "alice")
    bob = await MatrixTestClient.register(server.http, "bob")
    carol = await MatrixTestClient.register(server.http, "carol")
    await alice.ok("PUT", f"/profile/{alice.user_id}/displayname", json={"displayname": "Alice"})
    return alice, bob, carol


async def set_pusher(client: MatrixTestClient, url: str, **data: Any) -> None:
    body = {
        "kind": "http",
        "app_id": "org.example.app",
        "pushkey": f"key-{client.user_id}",
        "app_display_name": "Example",
        "device_display_name": "Phone",
        "lang": "en",
        "data": {"url": url, **data},
    }
    await client.ok("POST", "/pushers/set", json=body)


async def group(alice: MatrixTestClient, *others: MatrixTestClient, **create: Any) -> str:
    room = await alice.create_room(preset="public_chat", name="Mission Control", **create)
    for other in others:
        await other.join(room)
    return room


async def test_a_notification_is_posted_retried_after_a_500_and_then_done(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url, custom="kept")
    gateway.statuses = [500]
    event_id = await alice.send(room, "I'm floating in a most peculiar way")
    worker = server.worker()

    assert await worker.run_once() == 1
    assert len(gateway.received) == 1
    assert await server.queued() == 1
    assert await worker.run_once() == 0  # the backoff: not due yet
    server.clock.advance(1.0)
    assert await worker.run_once() == 1
    assert await server.queued() == 0
    assert await worker.run_once() == 0

    first, second = notifications(gateway)
    assert first == second  # the same notification, event_id included, on every attempt
    assert [path for path, _, _ in gateway.received] == ["/_matrix/push/v1/notify"] * 2
    assert second == {
        "event_id": event_id,
        "room_id": room,
        "type": "m.room.message",
        "sender": alice.user_id,
        "sender_display_name": "Alice",
        "room_name": "Mission Control",
        "prio": "low",
        "content": {"msgtype": "m.text", "body": "I'm floating in a most peculiar way"},
        "counts": {"unread": 1},
        "devices": [
            {
                "app_id": "org.example.app",
                "pushkey": f"key-{bob.user_id}",
                "pushkey_ts": server.clock.now_ms() // 1000 - 1,
                "data": {"custom": "kept"},
                "tweaks": {},
            }
        ],
    }


async def test_a_mention_is_high_priority_with_its_tweaks(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url)
    await set_pusher(carol, gateway.url)
    mention = {"msgtype": "m.text", "body": "bob!", "m.mentions": {"user_ids": [bob.user_id]}}
    await alice.ok("PUT", f"/rooms/{room}/send/m.room.message/t1", json=mention)
    await server.worker().run_once()
    by_key = {n["devices"][0]["pushkey"]: n for n in notifications(gateway)}
    to_bob = by_key[f"key-{bob.user_id}"]
    assert to_bob["prio"] == "high"
    assert to_bob["devices"][0]["tweaks"] == {"sound": "default", "highlight": True}
    assert by_key[f"key-{carol.user_id}"]["prio"] == "low"


async def test_nothing_readable_leaves_an_encrypted_room(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await alice.create_room(
        preset="private_chat", name="Secret plans", invite=[bob.user_id, carol.user_id]
    )
    await bob.join(room)
    await carol.join(room)
    await set_pusher(bob, gateway.url)
    ciphertext = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "opaque",
        "sender_key": "k",
        "session_id": "s",
        "device_id": "D",
    }
    event = await alice.ok("PUT", f"/rooms/{room}/send/m.room.encrypted/t1", json=ciphertext)
    await server.worker().run_once()
    (notification,) = notifications(gateway)
    assert notification["event_id"] == event["event_id"]
    assert notification["type"] == "m.room.encrypted"
    assert notification["prio"] == "high"
    for hidden in ("content", "room_name", "sender_display_name"):
        assert hidden not in notification


async def test_event_id_only_sends_ids_and_counts(server: Server, gateway: PushGateway) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url, format="event_id_only")
    event_id = await alice.send(room, "secret")
    await server.worker().run_once()
    (notification,) = notifications(gateway)
    assert set(notification) == {"event_id", "room_id", "counts", "prio", "devices"}
    assert notification["event_id"] == event_id
    assert notification["devices"][0]["data"] == {"format": "event_id_only"}


async def test_the_operator_can_send_event_id_only_always(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url)
    await alice.send(room, "secret")
    await server.worker(event_id_only=True).run_once()
    (notification,) = notifications(gateway)
    assert "content" not in notification
    assert "sender" not in notification


async def test_a_rejected_pushkey_removes_its_pusher(server: Server, gateway: PushGateway) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url)
    gateway.reject = {f"key-{bob.user_id}"}
    await alice.send(room, "one")
    await server.worker().run_once()
    assert (await bob.ok("GET", "/pushers"))["pushers"] == []
    await alice.send(room, "two")
    assert await server.queued() == 0  # no pusher, nothing queued
    assert len(gateway.received) == 1


async def test_a_client_error_is_final_and_attempts_are_bounded(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url)
    gateway.statuses = [400, 503, 503, 503]
    await alice.send(room, "one")
    worker = server.worker(retry=PushRetry(initial_ms=1000, max_ms=1000, max_attempts=2))
    await worker.run_once()
    assert await server.queued() == 0  # 400: no retry can help
    await alice.send(room, "two")
    await worker.run_once()
    server.clock.advance(1.0)
    await worker.run_once()
    server.clock.advance(1.0)
    await worker.run_once()
    assert [status for _, _, status in gateway.received] == [400, 503, 503]
    assert await server.queued() == 0


async def test_the_guard_refuses_loopback_at_send_time_without_the_setting(
    server: Server, gateway: PushGateway
) -> None:
    alice, bob, carol = await people(server)
    room = await group(alice, bob, carol)
    await set_pusher(bob, gateway.url)
    await alice.send(room, "one")
    await server.worker(allow_private=False).run_once()
    assert gateway.received == []
    assert await server.queued() == 0


async def test_queued_pushes_survive_a_restart_and_new_ones_go_at_once(
    settings: Settings, gateway: PushGateway
) -> None:
    configured = push_settings(settings).model_copy(
        update={"reports": settings.reports.model_copy(update={"scheduler": False})}
    )
    first = create_app(configured)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            server = Server(first, http, FakeClock())
            alice, bob, carol = await people(server)
            room = await group(alice, bob, carol)
            await set_pusher(bob, gateway.url)
            queued_id = await alice.send(room, "sent before the restart")
    assert gateway.received == []

    second = create_app(configured, background=True)
    async with second.router.lifespan_context(second):
        assert await asyncio.to_thread(gateway.wait_for, 1)
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            alice.http = http
            later_id = await alice.send(room, "sent after")
            # Well before the worker's next poll (5 s): the commit woke it.
            assert await asyncio.to_thread(gateway.wait_for, 2, 3.0)
    assert [n["event_id"] for n in notifications(gateway)] == [queued_id, later_id]


@pytest.mark.engines("postgresql")  # several processes on one SQLite file: unsupported
async def test_two_workers_on_one_database_post_each_notification_once(
    server: Server, gateway: PushGateway, settings: Settings
) -> None:
    alice, bob, _ = await people(server)
    room = await group(alice, bob)
    await set_pusher(bob, gateway.url)
    sent = [await alice.send(room, f"message {i}") for i in range(40)]
    # The second worker has its own engine and pool, as another process would.
    other_db = Database(settings.sqlalchemy_url())
    try:
        one, two = server.worker(), server.worker(db=other_db)
        made = await asyncio.gather(one.run_once(), two.run_once())
    finally:
        await other_db.dispose()

    assert sum(made) == len(sent)
    posted = [n["event_id"] for n in notifications(gateway)]
    assert sorted(posted) == sorted(sent)  # each one once
    assert await server.queued() == 0
