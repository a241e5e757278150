"""matrix-nio clients with encryption on, against a real `candor serve` (both engines).

Every client here has its own Olm account and nio store (under `tmp_path`), uploads its
device and one-time keys, queries and claims the others' keys, shares Megolm sessions over
to-device messages and decrypts what it receives: the whole of the server's E2EE contract
(docs/encryption.md) as a real client uses it.

- An `is_direct` `trusted_private_chat` DM is encrypted without the client asking; alice
  and bob each decrypt all of the other's messages, and /messages holds only
  `m.room.encrypted` events for them.
- In a `private_chat` group room, carol joins late and decrypts what is sent after she
  joined (Megolm does not give her the earlier history, and the test does not ask for it).
- bob deletes his second device (user-interactive auth with the password): alice hears of it
  in `device_lists.changed`, drops it on her next /keys/query, the deleted device's token
  is dead, and the next room key alice sends goes to bob's remaining device only, so the
  deleted device cannot read what follows.
"""

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from nio import (
    EncryptionError,
    MegolmEvent,
    RoomInviteResponse,
    RoomPreset,
)

from tests.e2e.conftest import ServerProcess
from tests.helpers.nio import (
    MEGOLM,
    PASSWORD,
    V3,
    Device,
    bearer,
    create_room,
    device_pool,
    encryption_state,
    raw_history,
    raw_http,
)

# matrix-nio is the subject, not the database: SQLite (test_nio_chat is the PostgreSQL smoke).
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(180)]


async def assert_encrypted_by_default(server: ServerProcess, creator: Device, room_id: str) -> None:
    create_bodies = [b for m, p, b in creator.requests if p.endswith("/createRoom")]
    assert create_bodies, "no createRoom request recorded"
    assert "initial_state" not in create_bodies[-1], "the client asked for encryption itself"
    status, content = await encryption_state(server, creator.token, room_id)
    assert status == 200, content
    assert content == {"algorithm": MEGOLM}
    assert creator.client.rooms[room_id].encrypted


async def test_encrypted_dm_both_ways(server: ServerProcess, tmp_path: Path) -> None:
    async with device_pool(server, tmp_path) as pool:
        alice = await pool.register("alice")
        bob = await pool.register("bob")

        room_id = await create_room(
            alice, [bob], is_direct=True, preset=RoomPreset.trusted_private_chat
        )
        await assert_encrypted_by_default(server, alice, room_id)
        await bob.join(room_id)
        assert bob.client.rooms[room_id].encrypted
        await alice.wait_for_join(room_id, bob.user_id)

        sent: list[tuple[str, str]] = []  # (event id, body) in sending order
        for i in range(5):
            for device, name in ((alice, "alice"), (bob, "bob")):
                body = f"{name} says {i}"
                sent.append((await device.send_text(room_id, body), body))
        ids = [event_id for event_id, _ in sent]

        for device in (alice, bob):
            await device.wait_for_texts(room_id, ids)
            texts = device.texts(room_id)
            # Both sides decrypt everything: the other's messages and their own echoes.
            assert [(e.event_id, e.body) for e in texts] == sent, device.user_id
            assert all(e.decrypted and e.session_id for e in texts)
            assert device.undecrypted(room_id) == [], device.user_id

        # The server holds ciphertext only: no m.room.message, no body, for any of them.
        history = await raw_history(server, alice.token, room_id)
        assert [e for e in history if e["type"] == "m.room.message"] == []
        encrypted = [e for e in history if e["type"] == "m.room.encrypted"]
        assert [e["event_id"] for e in encrypted] == ids
        for event in encrypted:
            content = event["content"]
            assert content["algorithm"] == MEGOLM
            assert {"ciphertext", "session_id", "sender_key", "device_id"} <= content.keys()
            assert "body" not in content
        raw = json.dumps(history)
        assert not [body for _, body in sent if body in raw]


async def test_group_room_late_joiner_reads_what_follows(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with device_pool(server, tmp_path) as pool:
        alice = await pool.register("alice")
        bob = await pool.register("bob")
        carol = await pool.register("carol")

        room_id = await create_room(alice, [bob], preset=RoomPreset.private_chat, name="group")
        await assert_encrypted_by_default(server, alice, room_id)
        await bob.join(room_id)
        await alice.wait_for_join(room_id, bob.user_id)

        async def exchange(tag: str) -> list[tuple[str, str]]:
            sent: list[tuple[str, str]] = []
            for i in range(3):
                for device, name in ((alice, "alice"), (bob, "bob")):
                    body = f"{tag}: {name} {i}"
                    sent.append((await device.send_text(room_id, body), body))
            return sent

        before = await exchange("before carol")
        for device in (alice, bob):
            await device.wait_for_texts(room_id, [i for i, _ in before])

        invited = await alice.client.room_invite(room_id, carol.user_id)
        assert isinstance(invited, RoomInviteResponse), invited
        await carol.join(room_id)
        assert carol.client.rooms[room_id].encrypted
        for device in (alice, bob):
            await device.wait_for_join(room_id, carol.user_id)

        after = await exchange("after carol")
        after_ids = [i for i, _ in after]
        await carol.wait_for_texts(room_id, after_ids)
        carol_after = [
            (e.event_id, e.body) for e in carol.texts(room_id) if e.event_id in after_ids
        ]
        assert carol_after == after
        # What carol cannot read is history from before she joined, and nothing else.
        before_ids = {i for i, _ in before}
        assert {e.event_id for e in carol.undecrypted(room_id)} <= before_ids

        for device in (alice, bob):
            await device.wait_for_texts(room_id, after_ids)
            assert [(e.event_id, e.body) for e in device.texts(room_id)] == before + after
            assert device.undecrypted(room_id) == [], device.user_id


def to_device_recipients(device: Device, event_type: str) -> dict[str, set[str]]:
    """user id -> device ids that `device` sent `event_type` to-device messages to."""
    recipients: dict[str, set[str]] = defaultdict(set)
    for method, path, body in device.requests:
        if method == "PUT" and f"/sendToDevice/{event_type}/" in path:
            for user_id, messages in body["messages"].items():
                recipients[user_id].update(messages)
    return dict(recipients)


async def delete_device_with_password(
    server: ServerProcess, owner: Device, name: str, device_id: str
) -> None:
    """POST /delete_devices: a 401 UIA challenge first, then m.login.password."""
    url = f"{V3}/delete_devices"
    async with raw_http(server) as http:
        r = await http.post(url, json={"devices": [device_id]}, headers=bearer(owner.token))
        assert r.status_code == 401, r.text
        challenge = r.json()
        assert challenge["session"], challenge
        assert {"stages": ["m.login.password"]} in challenge["flows"], challenge
        auth = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": PASSWORD,
            "session": challenge["session"],
        }
        r = await http.post(
            url, json={"devices": [device_id], "auth": auth}, headers=bearer(owner.token)
        )
        assert r.status_code == 200, r.text
        assert r.json() == {}


async def test_deleted_device_gets_no_new_room_keys(server: ServerProcess, tmp_path: Path) -> None:
    async with device_pool(server, tmp_path) as pool:
        alice = await pool.register("alice")
        bob1 = await pool.register("bob")
        bob2 = await pool.login("bob")
        assert bob1.user_id == bob2.user_id
        assert bob1.device_id != bob2.device_id
        bob = bob1.user_id

        room_id = await create_room(alice, [bob1], preset=RoomPreset.private_chat)
        await assert_encrypted_by_default(server, alice, room_id)
        await bob1.join(room_id)
        await bob2.step_until(lambda: room_id in bob2.client.rooms, "the room on bob's 2nd device")
        await alice.wait_for_join(room_id, bob)
        await alice.step_until(
            lambda: (
                {bob1.device_id, bob2.device_id}
                <= {d.id for d in alice.client.device_store.active_user_devices(bob)}
            ),
            "both of bob's devices in alice's device store",
        )

        early = [await alice.send_text(room_id, f"to both of bob's devices {i}") for i in range(3)]
        for device in (bob1, bob2):
            await device.wait_for_texts(room_id, early)
            assert device.undecrypted(room_id) == []
        assert to_device_recipients(alice, "m.room.encrypted")[bob] == {
            bob1.device_id,
            bob2.device_id,
        }
        early_events = [
            e for e in await raw_history(server, alice.token, room_id) if e["event_id"] in early
        ]
        old_sessions = {e["content"]["session_id"] for e in early_events}
        assert len(old_sessions) == 1, old_sessions

        await alice.step()
        await delete_device_with_password(server, bob1, "bob", bob2.device_id)

        async with raw_http(server) as http:
            r = await http.get(f"{V3}/account/whoami", headers=bearer(bob2.token))
            assert r.status_code == 401, r.text
            assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"
            r = await http.get(f"{V3}/devices", headers=bearer(bob1.token))
            assert r.status_code == 200, r.text
            assert [d["device_id"] for d in r.json()["devices"]] == [bob1.device_id]

        # alice's next /sync says bob's devices changed; her step then re-queries his keys.
        await alice.sync_until(lambda resp: bob in resp.device_list.changed, "bob in changed")
        await alice.step_until(lambda: not alice.client.should_query_keys, "the key query")
        store = alice.client.device_store
        assert {d.id for d in store.active_user_devices(bob)} == {bob1.device_id}
        assert store[bob][bob2.device_id].deleted

        # nio drops a room's outbound Megolm session when /keys/query reports a change for
        # one of its members (BaseClient._handle_olm_response -> invalidate_outbound_session),
        # so the next message starts a new session. That rotation is what keeps the deleted
        # device out: it holds the old session's key and could read anything still sent
        # with it. We assert the rotation (rather than force it with
        # `olm.outbound_group_sessions.pop(room_id)`) so that a nio that stopped rotating
        # fails here instead of passing vacuously.
        alice.requests.clear()
        late = await alice.send_text(room_id, "only for bob's first device")
        assert to_device_recipients(alice, "m.room.encrypted") == {bob: {bob1.device_id}}
        await bob1.wait_for_texts(room_id, [late])
        assert bob1.undecrypted(room_id) == []
        [late_event] = [
            e for e in await raw_history(server, alice.token, room_id) if e["event_id"] == late
        ]
        assert late_event["content"]["session_id"] not in old_sessions

        # The deleted device's own Olm machine: the old messages decrypt, the new one cannot.
        def megolm(raw: dict[str, Any]) -> Any:
            event = MegolmEvent.from_dict(raw)
            assert isinstance(event, MegolmEvent), event
            event.room_id = room_id
            return event

        assert (
            bob2.client.decrypt_event(megolm(early_events[0])).body == "to both of bob's devices 0"
        )
        with pytest.raises(EncryptionError):
            bob2.client.decrypt_event(megolm(late_event))
        assert bob1.client.decrypt_event(megolm(late_event)).body == "only for bob's first device"
