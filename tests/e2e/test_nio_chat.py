"""Two matrix-nio clients chat over a real `candor serve`, which then restarts.

alice and bob register with nio, alice opens a DM and invites bob, bob sees the invite in
/sync and joins; then both send 100 messages at the same time while each runs its own
/sync loop. Both must see all 200 messages exactly once, in the same order, with each
sender's messages in sending order. /messages must page the whole history back to the
room's creation, and after a restart the history, logins, joined rooms and the /sync
stream (old tokens, new events) must all still work.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinedRoomsResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    RegisterResponse,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

N = 100
PASSWORD = "correct horse battery staple"
# Big enough that no /sync in this test is ever `limited`: we want every event via /sync.
SYNC_FILTER = {"room": {"timeline": {"limit": 1000}}}
DEADLINE_S = 45.0


@asynccontextmanager
async def nio_client(server: ServerProcess, user: str = "") -> AsyncIterator[AsyncClient]:
    config = AsyncClientConfig(
        max_timeouts=5, request_timeout=20, max_timeout_retry_wait_time=1, max_limit_exceeded=0
    )
    client = AsyncClient(server.base_url, user, config=config)
    try:
        yield client
    finally:
        await client.close()


async def sync_once(client: AsyncClient) -> SyncResponse:
    resp = await client.sync(timeout=1000, sync_filter=SYNC_FILTER)
    assert isinstance(resp, SyncResponse), resp
    return resp


async def sync_until(
    client: AsyncClient, done: Callable[[SyncResponse], bool], what: str
) -> SyncResponse:
    """Incremental /sync (bounded) until `done(response)`."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        resp = await sync_once(client)
        if done(resp):
            return resp
    raise AssertionError(f"{client.user_id}: no {what} within {DEADLINE_S}s")


class Timeline:
    """Every timeline event one client received for one room, in /sync order."""

    def __init__(self, client: AsyncClient, room_id: str) -> None:
        self.client = client
        self.room_id = room_id
        self.events: list[Any] = []

    def take(self, resp: SyncResponse) -> None:
        room = resp.rooms.join.get(self.room_id)
        if room is None:
            return
        assert not room.timeline.limited, "a /sync with a 1000-event limit came back limited"
        self.events.extend(room.timeline.events)

    @property
    def messages(self) -> list[RoomMessageText]:
        return [e for e in self.events if isinstance(e, RoomMessageText)]

    async def follow(self, count: int) -> None:
        """Sync until `count` messages have arrived (bounded)."""
        deadline = time.monotonic() + DEADLINE_S
        while len(self.messages) < count:
            assert time.monotonic() < deadline, (
                f"{self.client.user_id} saw {len(self.messages)}/{count} messages"
            )
            self.take(await sync_once(self.client))


async def send_all(client: AsyncClient, room_id: str, name: str) -> list[str]:
    ids = []
    for i in range(N):
        resp = await client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": f"{name} {i}"}
        )
        assert isinstance(resp, RoomSendResponse), resp
        ids.append(resp.event_id)
    return ids


async def page_back(client: AsyncClient, room_id: str, start: str) -> list[Any]:
    """All events from `start` back to the room's creation via /messages, oldest first."""
    events: list[Any] = []
    token = start
    for _ in range(100):
        resp = await client.room_messages(
            room_id, start=token, limit=37, direction=MessageDirection.back
        )
        assert isinstance(resp, RoomMessagesResponse), resp
        events.extend(resp.chunk)
        if not resp.end or not resp.chunk:
            events.reverse()
            return events
        token = resp.end
    raise AssertionError("/messages did not run out after 100 pages")


def bodies(events: list[Any]) -> list[str]:
    return [e.body for e in events if isinstance(e, RoomMessageText)]


async def test_two_nio_clients_chat_and_survive_restart(server: ServerProcess) -> None:
    async with nio_client(server) as alice, nio_client(server) as bob:
        for client, name in ((alice, "alice"), (bob, "bob")):
            resp = await client.register(name, PASSWORD, device_name=f"{name}'s laptop")
            assert isinstance(resp, RegisterResponse), resp
            assert client.user_id == f"@{name}:localhost"
            await sync_once(client)

        created = await alice.room_create(is_direct=True, invite=[bob.user_id])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id

        invited = await sync_until(bob, lambda r: room_id in r.rooms.invite, "invite")
        invite_members = [
            e
            for e in invited.rooms.invite[room_id].invite_state
            if isinstance(e, InviteMemberEvent) and e.state_key == bob.user_id
        ]
        assert invite_members, invited.rooms.invite[room_id].invite_state
        assert invite_members[-1].membership == "invite"
        assert invite_members[-1].content.get("is_direct") is True

        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined

        def bob_joined(resp: SyncResponse) -> bool:
            room = resp.rooms.join.get(room_id)
            return room is not None and any(
                isinstance(e, RoomMemberEvent)
                and e.state_key == bob.user_id
                and e.membership == "join"
                for e in room.timeline.events
            )

        await sync_until(alice, bob_joined, "join by bob")
        alice_tl, bob_tl = Timeline(alice, room_id), Timeline(bob, room_id)
        await sync_once(bob)  # bob's first sync as a member: the room moves to `join`

        # Both send at once while both follow /sync.
        alice_ids, bob_ids, _, _ = await asyncio.wait_for(
            asyncio.gather(
                send_all(alice, room_id, "alice"),
                send_all(bob, room_id, "bob"),
                alice_tl.follow(2 * N),
                bob_tl.follow(2 * N),
            ),
            timeout=DEADLINE_S + 10,
        )

        expected_alice = [f"alice {i}" for i in range(N)]
        expected_bob = [f"bob {i}" for i in range(N)]
        for tl in (alice_tl, bob_tl):
            got = [m.body for m in tl.messages]
            assert len(got) == 2 * N, f"{tl.client.user_id}: {len(got)} messages"
            assert [b for b in got if b.startswith("alice ")] == expected_alice
            assert [b for b in got if b.startswith("bob ")] == expected_bob
            ids = [m.event_id for m in tl.messages]
            assert len(set(ids)) == 2 * N, "an event arrived twice via /sync"
            assert [i for i in ids if i in set(alice_ids)] == alice_ids
            assert [i for i in ids if i in set(bob_ids)] == bob_ids
        # One room, one order: both clients saw the same interleaving.
        assert [m.event_id for m in alice_tl.messages] == [m.event_id for m in bob_tl.messages]
        order = [m.event_id for m in alice_tl.messages]

        # /messages pages the whole history back to m.room.create, in /sync's order.
        history = await page_back(alice, room_id, alice.next_batch)
        assert history[0].source["type"] == "m.room.create"
        assert [e.event_id for e in history if isinstance(e, RoomMessageText)] == order
        assert len({e.event_id for e in history}) == len(history)
        assert [e.event_id for e in await page_back(bob, room_id, bob.next_batch)] == [
            e.event_id for e in history
        ]
        alice_token, bob_token = alice.next_batch, bob.next_batch

        server.restart()

        # Same clients, same tokens: history intact, the stream carries on from the old token.
        assert [e.event_id for e in await page_back(alice, room_id, alice_token)] == [
            e.event_id for e in history
        ]
        after = await alice.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "after restart"}
        )
        assert isinstance(after, RoomSendResponse), after
        bob_tl.events.clear()
        assert bob.next_batch == bob_token
        await bob_tl.follow(1)
        assert [m.event_id for m in bob_tl.messages] == [after.event_id]

        for name, user in (("alice", alice), ("bob", bob)):
            rooms = await user.joined_rooms()
            assert isinstance(rooms, JoinedRoomsResponse), rooms
            assert room_id in rooms.rooms, f"{name} lost the room"

    # A fresh login on a new device: password still valid, initial /sync has everything.
    async with nio_client(server, "@alice:localhost") as alice2:
        login = await alice2.login(PASSWORD, device_name="alice's phone")
        assert isinstance(login, LoginResponse), login
        rooms = await alice2.joined_rooms()
        assert isinstance(rooms, JoinedRoomsResponse), rooms
        assert rooms.rooms == [room_id]
        initial = await sync_once(alice2)
        timeline = initial.rooms.join[room_id].timeline
        assert not timeline.limited
        assert [e.event_id for e in timeline.events if isinstance(e, RoomMessageText)] == [
            *order,
            after.event_id,
        ]
        assert bodies(timeline.events)[-1] == "after restart"
