"""Per-thread unread counts (`unread_thread_notifications`) and threaded read receipts.

https://spec.matrix.org/v1.11/client-server-api/#threaded-read-receipts: a receipt with a
`thread_id` reads that thread only ("main" is the main timeline), an unthreaded one reads
everything before it. A /sync whose timeline filter asks for `unread_thread_notifications`
gets the main timeline's counts in `unread_notifications` and each thread's beside them;
any other /sync gets their sum. Every response is checked against the spec's schemas by the
test client. Both engines."""

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from candor.matrix.sync.service import SyncService
from tests.helpers.matrix import MatrixTestClient

_txn = itertools.count()
BY_THREAD = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})


async def reply_in_thread(
    client: MatrixTestClient, room: str, root: str, body: str, mention: str | None = None
) -> str:
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    }
    if mention is not None:
        content["m.mentions"] = {"user_ids": [mention]}
    r = await client.ok("PUT", f"/rooms/{room}/send/m.room.message/th{next(_txn)}", json=content)
    event_id: str = r["event_id"]
    return event_id


async def read(client: MatrixTestClient, room: str, event_id: str, thread: str | None) -> None:
    body = {} if thread is None else {"thread_id": thread}
    await client.ok("POST", f"/rooms/{room}/receipt/m.read/{event_id}", json=body)


def _counts(raw: dict[str, int]) -> tuple[int, int]:
    return raw["notification_count"], raw["highlight_count"]


async def by_thread(
    client: MatrixTestClient, room: str
) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    joined = (await client.sync(filter=BY_THREAD))["rooms"]["join"][room]
    threads = joined["unread_thread_notifications"]
    return _counts(joined["unread_notifications"]), {k: _counts(v) for k, v in threads.items()}


async def total(client: MatrixTestClient, room: str) -> tuple[int, int]:
    joined = (await client.sync())["rooms"]["join"][room]
    assert "unread_thread_notifications" not in joined
    return _counts(joined["unread_notifications"])


async def thread_room(alice: MatrixTestClient, bob: MatrixTestClient) -> str:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    return room


async def test_thread_replies_are_counted_by_thread_when_the_filter_asks(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root of the thread")
    other = await alice.send(room, "root of another")
    await reply_in_thread(alice, room, root, "first reply")
    await reply_in_thread(alice, room, root, "second reply", mention=bob.user_id)
    await reply_in_thread(alice, room, other, "elsewhere")
    await alice.send(room, "back in the main timeline")

    assert await by_thread(bob, room) == ((3, 0), {root: (2, 1), other: (1, 0)})
    assert await total(bob, room) == (6, 1)
    # Alice's own messages count for nobody, in any thread.
    assert await by_thread(alice, room) == ((0, 0), {})


async def test_a_threaded_receipt_reads_its_thread_only(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root")
    other = await alice.send(room, "another root")
    first = await reply_in_thread(alice, room, root, "one")
    second = await reply_in_thread(alice, room, root, "two")
    await reply_in_thread(alice, room, other, "three")
    main = await alice.send(room, "main")

    await read(bob, room, first, root)
    assert await by_thread(bob, room) == ((3, 0), {root: (1, 0), other: (1, 0)})
    await read(bob, room, second, root)
    assert await by_thread(bob, room) == ((3, 0), {other: (1, 0)})
    assert await total(bob, room) == (4, 0)
    # "main" reads the main timeline and leaves the threads alone.
    await read(bob, room, main, "main")
    assert await by_thread(bob, room) == ((0, 0), {other: (1, 0)})
    assert await total(bob, room) == (1, 0)


async def test_an_unthreaded_receipt_reads_every_thread_before_it(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root")
    await reply_in_thread(alice, room, root, "one")
    last = await alice.send(room, "main")
    later = await reply_in_thread(alice, room, root, "after the receipt")

    await read(bob, room, last, None)
    assert await by_thread(bob, room) == ((0, 0), {root: (1, 0)})
    await read(bob, room, later, None)
    assert await by_thread(bob, room) == ((0, 0), {})
    assert await total(bob, room) == (0, 0)


async def test_replying_in_a_thread_reads_that_thread_only(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root")
    await alice.send(room, "main one")
    await reply_in_thread(alice, room, root, "one")
    await reply_in_thread(bob, room, root, "bob answers in the thread")
    assert await by_thread(bob, room) == ((2, 0), {})
    await bob.send(room, "bob in the main timeline")
    assert await by_thread(bob, room) == ((0, 0), {})


async def test_encrypted_thread_replies_count_in_their_thread(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id])
    await bob.join(room)
    root = await alice.send(room, "root")
    # `m.relates_to` stays in the clear on an encrypted event (spec: "Mixing encryption
    # and relations"), so the server knows the thread without reading the message.
    await alice.ok(
        "PUT",
        f"/rooms/{room}/send/m.room.encrypted/enc{next(_txn)}",
        json={
            "algorithm": "m.megolm.v1.aes-sha2",
            "ciphertext": "AwgAEnAc...",
            "device_id": "ALICEDEVICE",
            "sender_key": "c2VuZGVyIGtleQ",
            "session_id": "c2Vzc2lvbg",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root},
        },
    )
    assert await by_thread(bob, room) == ((1, 0), {root: (1, 0)})


async def test_incremental_syncs_carry_thread_counts_as_a_fresh_read_gives_them(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    """A woken /sync adds the window's rows to the counts it answered with before
    (`sync/unread.py`); with threads they must still equal counts read afresh."""
    room = await thread_room(alice, bob)
    await carol.join(room)
    root = await alice.send(room, "root")
    readers = (carol, bob)
    since = {r.user_id: (await r.sync(filter=BY_THREAD))["next_batch"] for r in readers}
    transport = alice.http._transport
    service: SyncService = transport.app.state.provided[SyncService]  # type: ignore[attr-defined]
    before = service.window_builds
    steps: list[Callable[[], Awaitable[str]]] = [
        lambda: reply_in_thread(alice, room, root, "one"),
        lambda: alice.send(room, "main"),
        lambda: reply_in_thread(alice, room, root, "two", mention=bob.user_id),
        lambda: reply_in_thread(carol, room, root, "carol replies"),
        lambda: alice.send(room, "main again"),
    ]
    for step in steps:
        await step()
        for reader in readers:
            got = await reader.sync(since=since[reader.user_id], filter=BY_THREAD)
            since[reader.user_id] = got["next_batch"]
            joined = got["rooms"]["join"].get(room)
            if joined is None:
                continue
            fresh = (await reader.sync(filter=BY_THREAD))["rooms"]["join"][room]
            for key in ("unread_notifications", "unread_thread_notifications"):
                assert joined[key] == fresh[key], (reader.user_id, key)
    assert service.window_builds - before >= 3
    assert await by_thread(bob, room) == ((3, 0), {root: (3, 1)})
    assert await by_thread(carol, room) == ((3, 0), {})


@pytest.mark.parametrize("value", ["yes", 1, []])
async def test_a_filter_must_ask_for_thread_counts_with_a_boolean(
    alice: MatrixTestClient, value: object
) -> None:
    flt = {"room": {"timeline": {"unread_thread_notifications": value}}}
    r = await alice.request("GET", "/sync", params={"filter": json.dumps(flt)})
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] in ("M_BAD_JSON", "M_INVALID_PARAM")
    stored = await alice.request("POST", f"/user/{alice.user_id}/filter", json=flt)
    assert stored.status_code == 400, stored.text


async def test_a_threaded_receipt_must_point_into_its_thread(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root")
    reply = await reply_in_thread(alice, room, root, "in the thread")
    main = await alice.send(room, "main")
    reaction = (
        await alice.ok(
            "PUT",
            f"/rooms/{room}/send/m.reaction/r{next(_txn)}",
            json={"m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "👍"}},
        )
    )["event_id"]
    refused = [
        ("m.read", reply, {"thread_id": "main"}),  # a thread reply is not the main timeline
        ("m.read", main, {"thread_id": root}),  # nor is a main message in the thread
        ("m.read", main, {"thread_id": ""}),
        ("m.fully_read", main, {"thread_id": "main"}),  # the read marker has no thread
    ]
    for kind, event_id, body in refused:
        r = await bob.request("POST", f"/rooms/{room}/receipt/{kind}/{event_id}", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errcode"] == "M_INVALID_PARAM"
    assert await by_thread(bob, room) == ((2, 0), {root: (1, 0)})  # nothing was read
    # The root starts its thread; a reaction is in its parent's thread (Element sends both).
    for event_id, thread in ((root, root), (reaction, root), (root, "main"), (main, "main")):
        await read(bob, room, event_id, thread)
    assert await by_thread(bob, room) == ((0, 0), {})


async def test_notifications_are_read_by_their_own_thread_s_receipt(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await thread_room(alice, bob)
    root = await alice.send(room, "root")
    reply = await reply_in_thread(alice, room, root, "in the thread")
    main = await alice.send(room, "main")
    await read(bob, room, reply, root)

    def flags(body: dict[str, Any]) -> dict[str, bool]:
        return {n["event"]["event_id"]: n["read"] for n in body["notifications"]}

    # The thread's receipt is later than the root, but reads only its thread.
    assert flags(await bob.ok("GET", "/notifications")) == {main: False, reply: True, root: False}
    await read(bob, room, main, "main")
    assert flags(await bob.ok("GET", "/notifications")) == {main: True, reply: True, root: True}
