"""matrix-nio devices with encryption on, for end-to-end tests against `candor serve`.

A `Device` is a real nio `AsyncClient` with its own Olm account and store; `step()` does
one /sync and then what nio's `sync_forever` does between syncs (send queued to-device
messages, upload, query and claim keys), then retries decrypting what is still
encrypted, because a room key can arrive in a later sync than its message.
"""

import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from nio import (
    AsyncClient,
    AsyncClientConfig,
    EncryptionError,
    JoinResponse,
    KeysClaimResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    LoginResponse,
    MegolmEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
    ToDeviceResponse,
)

from tests.e2e.conftest import ServerProcess

V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"
MEGOLM = "m.megolm.v1.aes-sha2"
# Big enough that no /sync here is `limited`: every event arrives through /sync.
SYNC_FILTER = {"room": {"timeline": {"limit": 1000}}}
DEADLINE_S = 30.0
HTTP_TIMEOUT = httpx.Timeout(20.0)


@dataclass
class Device:
    """One nio client (one Matrix device) with encryption on, and what it has seen.

    `client` is a `nio.AsyncClient`; matrix-nio ships no type hints, so it is `Any` at this
    seam (and so are the nio events and responses below).
    """

    client: Any
    # room id -> timeline events in /sync order, Megolm events replaced once decrypted
    timelines: defaultdict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    # (method, path, JSON body) of every request this client made, in order
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        original = self.client.send

        async def recording_send(
            method: str, path: str, data: Any = None, *args: Any, **kwargs: Any
        ) -> Any:
            body = json.loads(data) if isinstance(data, str) and data else None
            self.requests.append((method, path.split("?", 1)[0], body))
            return await original(method, path, data, *args, **kwargs)

        # AsyncClient.send is the one place nio's requests go through (via `_send`).
        self.client.send = recording_send

    @property
    def user_id(self) -> str:
        user_id: str = self.client.user_id
        return user_id

    @property
    def device_id(self) -> str:
        device_id: str = self.client.device_id
        return device_id

    @property
    def token(self) -> str:
        token: str = self.client.access_token
        return token

    async def step(self) -> Any:
        """One /sync, then what nio's `sync_forever` does between syncs: send queued
        to-device messages, upload, query and claim keys; then retry undecrypted events."""
        c = self.client
        resp = await c.sync(timeout=500, sync_filter=SYNC_FILTER)
        assert isinstance(resp, SyncResponse), resp
        for room_id, room in resp.rooms.join.items():
            assert not room.timeline.limited, "a /sync with a 1000-event limit came back limited"
            self.timelines[room_id].extend(room.timeline.events)
        for sent in await c.send_to_device_messages():
            assert isinstance(sent, ToDeviceResponse), sent
        if c.should_upload_keys:
            uploaded = await c.keys_upload()
            assert isinstance(uploaded, KeysUploadResponse), uploaded
        if c.should_query_keys:
            queried = await c.keys_query()
            assert isinstance(queried, KeysQueryResponse), queried
        if c.should_claim_keys:
            claimed = await c.keys_claim(c.get_users_for_key_claiming())
            assert isinstance(claimed, KeysClaimResponse), claimed
        self._retry_decryption()
        return resp

    def _retry_decryption(self) -> None:
        """A room key may arrive in a later /sync than the message (to-device and room
        streams are not ordered with each other); like Element, try again when it does."""
        for events in self.timelines.values():
            for i, event in enumerate(events):
                if isinstance(event, MegolmEvent):
                    with suppress(EncryptionError):
                        events[i] = self.client.decrypt_event(event)

    async def sync_until(self, done: Callable[[Any], bool], what: str) -> Any:
        """Step (bounded) until `done(sync_response)`."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            resp = await self.step()
            if done(resp):
                return resp
        raise AssertionError(f"{self.user_id}/{self.device_id}: no {what} within {DEADLINE_S}s")

    async def step_until(self, done: Callable[[], bool], what: str) -> None:
        if not done():
            await self.sync_until(lambda _: done(), what)

    def texts(self, room_id: str) -> list[Any]:
        """The decrypted `m.text` messages of a room, in /sync order."""
        return [e for e in self.timelines[room_id] if isinstance(e, RoomMessageText)]

    def undecrypted(self, room_id: str) -> list[Any]:
        return [e for e in self.timelines[room_id] if isinstance(e, MegolmEvent)]

    def has_joined(self, room_id: str, user_id: str) -> bool:
        return any(
            isinstance(e, RoomMemberEvent) and e.state_key == user_id and e.membership == "join"
            for e in self.timelines[room_id]
        )

    async def wait_for_join(self, room_id: str, user_id: str) -> None:
        await self.step_until(lambda: self.has_joined(room_id, user_id), f"{user_id}'s join")

    async def wait_for_texts(self, room_id: str, event_ids: Iterable[str]) -> None:
        """Step until every one of `event_ids` has been received and decrypted."""
        wanted = set(event_ids)
        deadline = time.monotonic() + DEADLINE_S
        while not wanted <= {e.event_id for e in self.texts(room_id)}:
            if time.monotonic() > deadline:
                locked = {e.event_id: e.session_id for e in self.undecrypted(room_id)}
                missing = wanted - {e.event_id for e in self.texts(room_id)}
                raise AssertionError(
                    f"{self.user_id}/{self.device_id} after {DEADLINE_S}s: "
                    f"{len(missing)}/{len(wanted)} messages not decrypted; "
                    f"received but undecryptable (event -> Megolm session): "
                    f"{ {i: locked[i] for i in missing if i in locked} }; "
                    f"never received: {sorted(missing - locked.keys())}"
                )
            await self.step()

    async def send_text(self, room_id: str, body: str) -> str:
        assert self.client.rooms[room_id].encrypted, f"{self.user_id}: room not encrypted"
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            # Trust on first use: these tests are about the server, not verification.
            ignore_unverified_devices=True,
        )
        assert isinstance(resp, RoomSendResponse), resp
        event_id: str = resp.event_id
        return event_id

    async def join(self, room_id: str) -> None:
        await self.step_until(lambda: room_id in self.client.invited_rooms, f"invite to {room_id}")
        joined = await self.client.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        await self.step_until(lambda: room_id in self.client.rooms, f"{room_id} in join")


class DevicePool:
    """Registers and logs in nio devices, each with its own store under `tmp_path`."""

    def __init__(self, server: ServerProcess, tmp_path: Path) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.devices: list[Device] = []

    def _new(self, user: str, label: str) -> Device:
        store = self.tmp_path / f"nio-{label}-{len(self.devices)}"
        store.mkdir()
        config = AsyncClientConfig(
            encryption_enabled=True,
            max_timeouts=5,
            request_timeout=20,
            max_timeout_retry_wait_time=1,
            max_limit_exceeded=0,
        )
        client = AsyncClient(self.server.base_url, user, store_path=str(store), config=config)
        device = Device(client)
        self.devices.append(device)
        return device

    async def _upload_keys(self, device: Device) -> None:
        assert device.client.olm is not None, "nio did not load its Olm machine"
        assert device.client.should_upload_keys
        resp = await device.client.keys_upload()
        assert isinstance(resp, KeysUploadResponse), resp
        assert resp.signed_curve25519_count > 0, resp
        # /sync reports the same count (`device_one_time_keys_count`), which nio relies on.
        synced = await device.step()
        assert synced.device_key_count.signed_curve25519 == resp.signed_curve25519_count

    async def register(self, name: str) -> Device:
        device = self._new("", name)
        resp = await device.client.register(name, PASSWORD, device_name=f"{name}'s laptop")
        assert isinstance(resp, RegisterResponse), resp
        await self._upload_keys(device)
        return device

    async def login(self, name: str) -> Device:
        device = self._new(f"@{name}:localhost", name)
        resp = await device.client.login(PASSWORD, device_name=f"{name}'s phone")
        assert isinstance(resp, LoginResponse), resp
        await self._upload_keys(device)
        return device


@asynccontextmanager
async def device_pool(server: ServerProcess, tmp_path: Path) -> AsyncIterator[DevicePool]:
    pool = DevicePool(server, tmp_path)
    try:
        yield pool
    finally:
        for device in pool.devices:
            await device.client.close()


@asynccontextmanager
async def raw_http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=HTTP_TIMEOUT) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_room(creator: Device, invite: list[Device], **kwargs: Any) -> str:
    resp = await creator.client.room_create(invite=[d.user_id for d in invite], **kwargs)
    assert isinstance(resp, RoomCreateResponse), resp
    room_id: str = resp.room_id
    await creator.step_until(lambda: room_id in creator.client.rooms, "the new room")
    return room_id


async def encryption_state(server: ServerProcess, token: str, room_id: str) -> tuple[int, Any]:
    """The room's `m.room.encryption` content, fetched raw (404 if there is none)."""
    async with raw_http(server) as http:
        r = await http.get(f"{V3}/rooms/{room_id}/state/m.room.encryption/", headers=bearer(token))
    return r.status_code, r.json()


async def raw_history(server: ServerProcess, token: str, room_id: str) -> list[dict[str, Any]]:
    """Every event of the room as /messages serves it (paged back), oldest first."""
    events: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"dir": "b", "limit": 100}
    async with raw_http(server) as http:
        for _ in range(50):
            r = await http.get(
                f"{V3}/rooms/{room_id}/messages", params=params, headers=bearer(token)
            )
            assert r.status_code == 200, r.text
            page = r.json()
            events.extend(page["chunk"])
            if not page["chunk"] or "end" not in page:
                events.reverse()
                return events
            params["from"] = page["end"]
    raise AssertionError("/messages did not run out after 50 pages")
