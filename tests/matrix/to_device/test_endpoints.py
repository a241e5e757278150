"""PUT /sendToDevice and the to-device part of /sync, over HTTP.

https://spec.matrix.org/v1.11/client-server-api/#send-to-device-messaging and
docs/encryption.md ("To-device messages"): answers exactly `{}`, delivers to the named
devices (or all with "*"), redelivers until the next sync acknowledges, once per txn id.
"""

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any

import httpx

from tests.helpers.e2ee import login
from tests.helpers.matrix import V3, MatrixTestClient

EVENT_TYPE = "m.room_key_request"
_txn = itertools.count()


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _send(
    sender: MatrixTestClient,
    messages: Mapping[str, Mapping[str, Mapping[str, object]]],
    txn: str | None = None,
    event_type: str = EVENT_TYPE,
) -> None:
    txn = txn or f"td{next(_txn)}"
    got = await sender.ok("PUT", f"/sendToDevice/{event_type}/{txn}", json={"messages": messages})
    assert got == {}


async def _events(client: MatrixTestClient, since: str | None = None) -> list[dict[str, Any]]:
    sync = await client.sync(since=since)
    events: list[dict[str, Any]] = sync["to_device"]["events"]
    return events


# --- delivery ------------------------------------------------------------------------


async def test_message_to_one_device_reaches_only_that_device(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    bob_laptop = await login(http, bob, device_id="LAPTOP")
    alice_laptop = await login(http, alice, device_id="LAPTOP")
    content = {"action": "request", "body": {"room_id": "!r:test.local"}, "n": [1, "ü"]}
    await _send(alice, {bob.user_id: {bob.device_id: content}})
    assert await _events(bob) == [{"sender": alice.user_id, "type": EVENT_TYPE, "content": content}]
    assert await _events(bob_laptop) == []
    assert await _events(alice) == []
    assert await _events(alice_laptop) == []


async def test_message_to_star_reaches_every_device_of_the_user_only(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    bob_laptop = await login(http, bob, device_id="LAPTOP")
    alice_laptop = await login(http, alice, device_id="LAPTOP")
    content = {"hello": "everyone"}
    await _send(alice, {bob.user_id: {"*": content}})
    expected = [{"sender": alice.user_id, "type": EVENT_TYPE, "content": content}]
    assert await _events(bob) == expected
    assert await _events(bob_laptop) == expected
    assert await _events(alice_laptop) == []
    assert await _events(carol) == []


async def test_message_to_own_other_device_reaches_it(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    laptop = await login(http, alice, device_id="LAPTOP")
    await _send(alice, {alice.user_id: {"LAPTOP": {"x": 1}}})
    assert await _events(laptop) == [
        {"sender": alice.user_id, "type": EVENT_TYPE, "content": {"x": 1}}
    ]
    assert await _events(alice) == []


async def test_messages_are_redelivered_until_the_next_batch_acknowledges_them(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    since = (await bob.sync())["next_batch"]
    await _send(alice, {bob.user_id: {bob.device_id: {"seq": 1}}})
    await _send(alice, {bob.user_id: {bob.device_id: {"seq": 2}}})

    first = await bob.sync(since=since)
    seqs = [e["content"]["seq"] for e in first["to_device"]["events"]]
    assert seqs == [1, 2]
    # The response may have been lost: the same since gets the same messages again.
    repeat = await bob.sync(since=since)
    assert [e["content"]["seq"] for e in repeat["to_device"]["events"]] == [1, 2]

    acked = await bob.sync(since=repeat["next_batch"])
    assert acked["to_device"]["events"] == []
    # Acknowledged messages are gone for good.
    assert await _events(bob, since) == []
    assert await _events(bob) == []


async def test_same_transaction_id_is_delivered_once(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    messages: dict[str, dict[str, dict[str, object]]] = {bob.user_id: {bob.device_id: {"n": 1}}}
    await _send(alice, messages, txn="same")
    await _send(alice, messages, txn="same")
    assert [e["content"] for e in await _events(bob)] == [{"n": 1}]
    # The same txn id from another sender is a different transaction.
    dave = await MatrixTestClient.register(alice.http, "dave")
    await _send(dave, messages, txn="same")
    assert [e["sender"] for e in await _events(bob)] == [alice.user_id, dave.user_id]


async def test_content_over_64_kib_is_too_large_and_delivers_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    big = {"pad": "x" * (64 * 1024 + 1)}
    body = {
        "messages": {
            carol.user_id: {carol.device_id: {"ok": True}},
            bob.user_id: {bob.device_id: big},
        }
    }
    r = await alice.request("PUT", "/sendToDevice/m.test/big", json=body)
    assert _err(r) == (413, "M_TOO_LARGE")
    assert await _events(bob) == []
    assert await _events(carol) == []


async def test_messages_to_unknown_users_and_devices_are_dropped(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await _send(
        alice,
        {
            "@nobody:test.local": {"DEV": {"x": 1}},
            bob.user_id: {"NOSUCHDEVICE": {"x": 2}},
            "@someone:elsewhere.example": {"DEV": {"x": 3}},
        },
    )
    assert await _events(bob) == []


async def test_malformed_bodies_are_rejected_and_deliver_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    ok_part = {bob.user_id: {bob.device_id: {"x": 1}}}
    bodies: list[object] = [
        {},
        {"messages": "nope"},
        {"messages": [ok_part]},
        {"messages": {bob.user_id: "DEV"}},
        {"messages": {bob.user_id: {bob.device_id: "not an object"}}},
        {"messages": {**ok_part, "not-a-user-id": {"DEV": {"x": 1}}}},
        {"messages": {**ok_part, "@bad user:test.local": {"DEV": {"x": 1}}}},
    ]
    for i, body in enumerate(bodies):
        r = await alice.request("PUT", f"/sendToDevice/m.test/bad{i}", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errcode"] in {"M_BAD_JSON", "M_INVALID_PARAM", "M_MISSING_PARAM"}, body
    r = await alice.request("PUT", "/sendToDevice/m.test/notjson", content=b"{")
    assert _err(r) == (400, "M_NOT_JSON")
    r = await http.put(f"{V3}/sendToDevice/m.test/t", json={"messages": ok_part})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    assert await _events(bob) == []


# --- long-poll -----------------------------------------------------------------------


async def test_waiting_sync_returns_promptly_when_a_message_arrives(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    since = (await bob.sync())["next_batch"]
    poll = asyncio.create_task(bob.sync(since=since, timeout=10_000))
    # The long-poll is really waiting: nothing to return yet.
    done, _ = await asyncio.wait({poll}, timeout=0.5)
    assert not done, "the long-poll returned although nothing happened"

    sent_at = time.monotonic()
    await _send(alice, {bob.user_id: {bob.device_id: {"wake": "up"}}})
    sync = await asyncio.wait_for(poll, timeout=9)
    assert time.monotonic() - sent_at < 3
    assert sync["to_device"]["events"] == [
        {"sender": alice.user_id, "type": EVENT_TYPE, "content": {"wake": "up"}}
    ]


async def test_sync_hands_out_at_most_100_messages_at_a_time_in_order(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    for i in range(105):
        await _send(alice, {bob.user_id: {bob.device_id: {"seq": i}}})
    first = await bob.sync()
    assert [e["content"]["seq"] for e in first["to_device"]["events"]] == list(range(100))
    second = await bob.sync(since=first["next_batch"])
    assert [e["content"]["seq"] for e in second["to_device"]["events"]] == list(range(100, 105))
    third = await bob.sync(since=second["next_batch"])
    assert third["to_device"]["events"] == []


async def test_same_transaction_id_from_another_device_is_another_message(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    laptop = await login(http, alice, device_id="LAPTOP")
    await _send(alice, {bob.user_id: {bob.device_id: {"from": "phone"}}}, txn="same")
    await _send(laptop, {bob.user_id: {bob.device_id: {"from": "laptop"}}}, txn="same")
    contents = [e["content"] for e in await _events(bob)]
    assert contents == [{"from": "phone"}, {"from": "laptop"}]
