"""The demo's encrypted chat: two matrix-nio clients (Olm/Megolm in the clients, never on
the server) exchange a message in an end-to-end encrypted DM and decrypt it.

matrix-nio is a dependency of the package (so `pip install candor` gives a working demo),
but only this command imports it; the guard tells someone who removed it what to install.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from candor.cli.demo_support import PASSWORD, DemoFailed, expect

try:
    from nio import (
        AsyncClient,
        AsyncClientConfig,
        EncryptionError,
        JoinResponse,
        LoginResponse,
        MegolmEvent,
        RoomCreateResponse,
        RoomMessageText,
        RoomPreset,
        RoomSendResponse,
        SyncResponse,
    )

    NIO_MISSING: str | None = None
except ImportError:  # pragma: no cover - depends on the installed extras
    NIO_MISSING = "candor demo needs matrix-nio with E2EE: pip install 'matrix-nio[e2e]==0.26.0'"

DEADLINE_S = 20.0
SYNC_FILTER = {"room": {"timeline": {"limit": 100}}}


@dataclass
class NioDevice:
    """One nio client with its own Olm account and store, and the timeline it has seen."""

    client: Any  # Any: a nio.AsyncClient; matrix-nio ships no type hints
    timeline: list[Any]  # Any: nio's events, untyped likewise

    async def step(self) -> None:
        """One /sync, then what nio's sync_forever does between syncs (keys, to-device)."""
        c = self.client
        resp = await c.sync(timeout=300, sync_filter=SYNC_FILTER)
        if not isinstance(resp, SyncResponse):
            raise DemoFailed(f"nio /sync failed: {resp}")
        for room in resp.rooms.join.values():
            self.timeline.extend(room.timeline.events)
        await c.send_to_device_messages()
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())
        for i, event in enumerate(self.timeline):
            if isinstance(event, MegolmEvent):  # its room key may come in a later sync
                with suppress(EncryptionError):
                    self.timeline[i] = c.decrypt_event(event)

    async def until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not done():
            if time.monotonic() > deadline:
                raise DemoFailed(f"{self.client.user_id}: no {what} within {DEADLINE_S:g}s")
            await self.step()


async def _device(base_url: str, user_id: str, store: Path) -> NioDevice:
    await asyncio.to_thread(store.mkdir, parents=True, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, max_timeouts=3, request_timeout=20)
    client = AsyncClient(base_url, user_id, store_path=str(store), config=config)
    resp = await client.login(PASSWORD, device_name="demo phone (matrix-nio)")
    if not isinstance(resp, LoginResponse):
        await client.close()
        raise DemoFailed(f"nio login of {user_id} failed: {resp}")
    device = NioDevice(client, [])
    await client.keys_upload()
    await device.step()
    return device


@dataclass(frozen=True)
class ChatResult:
    room_id: str
    event_id: str
    plaintext: str
    decrypted_by_bob: str


async def encrypted_dm(base_url: str, alice_id: str, bob_id: str, store: Path) -> ChatResult:
    """alice opens a DM with bob (encrypted by default), sends; bob decrypts it."""
    if NIO_MISSING is not None:
        raise DemoFailed(NIO_MISSING)
    # nio warns that it cannot share the room key with the people's other (keyless) devices,
    # the demo's plain HTTP clients: true and expected, and noise in the tour's output.
    logging.getLogger("nio").setLevel(logging.ERROR)
    alice = await _device(base_url, alice_id, store / "alice")
    bob = await _device(base_url, bob_id, store / "bob")
    try:
        made = await alice.client.room_create(
            invite=[bob_id], is_direct=True, preset=RoomPreset.trusted_private_chat
        )
        if not isinstance(made, RoomCreateResponse):
            raise DemoFailed(f"nio could not create the DM: {made}")
        room_id: str = made.room_id
        await bob.until(lambda: room_id in bob.client.invited_rooms, "invite")
        joined = await bob.client.join(room_id)
        if not isinstance(joined, JoinResponse):
            raise DemoFailed(f"bob could not join the DM: {joined}")
        await bob.until(lambda: room_id in bob.client.rooms, "joined room")
        await alice.until(
            lambda: (
                room_id in alice.client.rooms
                and bob_id in alice.client.rooms[room_id].users
                and alice.client.rooms[room_id].encrypted
            ),
            "bob's join",
        )
        text = f"Popcorn at mine on Friday? Bring the blanket. #{time.time_ns() % 100000}"
        sent = await alice.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,  # trust on first use: the demo is not about verification
        )
        if not isinstance(sent, RoomSendResponse):
            raise DemoFailed(f"alice could not send: {sent}")
        event_id: str = sent.event_id

        def bob_has_it() -> bool:
            return any(
                isinstance(e, RoomMessageText) and e.event_id == event_id for e in bob.timeline
            )

        await bob.until(bob_has_it, "decrypted message")
        got = next(
            e for e in bob.timeline if isinstance(e, RoomMessageText) and e.event_id == event_id
        )
        expect(got.body == text, "bob decrypted something other than what alice sent")
        return ChatResult(room_id, event_id, text, got.body)
    finally:
        await alice.client.close()
        await bob.client.close()
