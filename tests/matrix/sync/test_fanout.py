"""The woken /sync path: a window of the stream read once and shared by every /sync of the
same window (`sync/window.py`), and the re-poll that waits without building. Each test
makes several people (or devices) read one window, so they are served from one entry."""

import asyncio
from typing import Any

from tests.helpers.e2ee import login
from tests.helpers.matrix import MatrixTestClient


def _timeline(sync: dict[str, Any], room: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sync["rooms"]["join"][room]["timeline"]["events"]
    return events


def _message(sync: dict[str, Any], room: str, event_id: str) -> dict[str, Any]:
    return next(e for e in _timeline(sync, room) if e["event_id"] == event_id)


async def test_transaction_id_goes_only_to_the_sending_device_from_a_shared_window(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    phone = await login(alice.http, alice)
    since = (await alice.sync())["next_batch"]
    event_id = await alice.send(room, "hello", txn="my-txn")
    # The same window for three readers: the sending device, another of her devices, bob.
    mine = await alice.sync(since=since)
    other_device = await phone.sync(since=since)
    theirs = await bob.sync(since=since)
    assert _message(mine, room, event_id)["unsigned"]["transaction_id"] == "my-txn"
    assert "transaction_id" not in _message(other_device, room, event_id)["unsigned"]
    assert "transaction_id" not in _message(theirs, room, event_id)["unsigned"]


async def test_redaction_after_a_window_was_served_is_seen_on_a_retry(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    event_id = await alice.send(room, "oops")
    first = await bob.sync(since=since)
    assert _message(first, room, event_id)["content"]["body"] == "oops"
    await alice.ok("PUT", f"/rooms/{room}/redact/{event_id}/r1", json={})
    # A client retrying the same token must not get the cached, unredacted copy.
    retry = await bob.sync(since=since)
    redacted = _message(retry, room, event_id)
    assert redacted["content"] == {}
    assert "redacted_because" in redacted["unsigned"]
    assert any(e["type"] == "m.room.redaction" for e in _timeline(retry, room))


async def test_receipt_in_a_window_with_events_reaches_every_reader(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await carol.join(room)
    since = (await bob.sync())["next_batch"]
    event_id = await alice.send(room, "read me")
    await carol.ok("POST", f"/rooms/{room}/receipt/m.read/{event_id}", json={})
    for reader in (bob, alice):
        sync = await reader.sync(since=since)
        ephemeral = sync["rooms"]["join"][room]["ephemeral"]["events"]
        receipts = [e for e in ephemeral if e["type"] == "m.receipt"]
        assert receipts
        assert carol.user_id in receipts[0]["content"][event_id]["m.read"]


async def test_account_data_in_a_window_with_events_is_delivered(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    await alice.send(room, "news")
    await bob.ok("PUT", f"/user/{bob.user_id}/account_data/org.example.x", json={"v": 1})
    await alice.sync(since=since)  # fills the window first, from another reader
    sync = await bob.sync(since=since)
    assert {"type": "org.example.x", "content": {"v": 1}} in sync["account_data"]["events"]


async def test_many_long_polls_each_get_the_event_once_and_their_unread_counts(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await carol.join(room)
    tokens = {c.user_id: (await c.sync())["next_batch"] for c in (bob, carol)}

    async def poll(client: MatrixTestClient) -> Any:
        return await client.sync(since=tokens[client.user_id], timeout="5000")

    polls = [asyncio.create_task(poll(c)) for c in (bob, carol)]
    await asyncio.sleep(0.2)  # both are waiting, already caught up
    event_id = await alice.send(room, "to everyone")
    for sync in await asyncio.gather(*polls):
        assert [e["event_id"] for e in _timeline(sync, room)] == [event_id]
        assert sync["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 1


async def test_quiet_rooms_are_left_out_of_an_incremental_sync(alice: MatrixTestClient) -> None:
    rooms = [await alice.create_room() for _ in range(5)]
    since = (await alice.sync())["next_batch"]
    await alice.send(rooms[2], "only here")
    sync = await alice.sync(since=since)
    assert list(sync["rooms"]["join"]) == [rooms[2]]
    again = await alice.sync(since=sync["next_batch"])
    assert again["rooms"]["join"] == {}


async def test_memberships_reused_between_syncs_follow_an_invite_a_join_and_a_leave(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    await alice.send(room, "just a message")  # a window of events only: memberships reused
    since = (await bob.sync(since=since))["next_batch"]
    other = await alice.create_room(preset="public_chat")
    await alice.invite(other, bob.user_id)
    invited = await bob.sync(since=since)
    assert other in invited["rooms"]["invite"]
    await bob.join(other)
    joined = await bob.sync(since=invited["next_batch"])
    assert other in joined["rooms"]["join"]
    await alice.send(other, "in the new room")
    after_join = await bob.sync(since=joined["next_batch"])
    assert [e["content"]["body"] for e in _timeline(after_join, other)] == ["in the new room"]
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    left = await bob.sync(since=after_join["next_batch"])
    assert room in left["rooms"]["leave"]
    await alice.send(room, "after bob left")
    later = await bob.sync(since=left["next_batch"])
    assert room not in later["rooms"]["join"]
    assert room not in later["rooms"]["leave"]


async def test_a_caught_up_long_poll_wakes_for_a_room_joined_while_it_waits(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    since = (await bob.sync())["next_batch"]
    poll = asyncio.create_task(bob.sync(since=since, timeout="5000"))
    await asyncio.sleep(0.2)
    await bob.join(room)
    sync = await asyncio.wait_for(poll, 5)
    assert room in sync["rooms"]["join"]
