"""`GET /rooms/{roomId}/context/{eventId}` over HTTP: the events around an event, tokens that
continue with /messages both ways, the room state at the end, filters, history visibility
and bad input (both engines; every answer is checked against the spec's schema)."""

import json
from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient


def _bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _context(
    client: MatrixTestClient, room: str, event_id: str, **params: Any
) -> dict[str, Any]:
    body: dict[str, Any] = await client.ok(
        "GET", f"/rooms/{room}/context/{event_id}", params=params
    )
    return body


async def _room_of_ten(alice: MatrixTestClient) -> tuple[str, list[str]]:
    room = await alice.create_room(preset="public_chat")
    ids = [await alice.send(room, f"m{i}") for i in range(10)]
    return room, ids


async def test_context_splits_the_limit_around_the_event(alice: MatrixTestClient) -> None:
    room, ids = await _room_of_ten(alice)
    ctx = await _context(alice, room, ids[5], limit=4)
    assert ctx["event"]["event_id"] == ids[5]
    assert ctx["event"]["content"]["body"] == "m5"
    # events_before newest first, events_after oldest first.
    assert _bodies(ctx["events_before"]) == ["m4", "m3"]
    assert _bodies(ctx["events_after"]) == ["m6", "m7"]
    # The state at the end: the room's creation and Alice's membership among it.
    types = {(e["type"], e.get("state_key")) for e in ctx["state"]}
    assert ("m.room.create", "") in types
    assert ("m.room.member", alice.user_id) in types


async def test_context_tokens_continue_with_messages_both_ways(alice: MatrixTestClient) -> None:
    room, ids = await _room_of_ten(alice)
    ctx = await _context(alice, room, ids[5], limit=4)
    older = await alice.messages(room, **{"from": ctx["start"], "dir": "b", "limit": 3})
    assert _bodies(older["chunk"]) == ["m2", "m1", "m0"]
    newer = await alice.messages(room, **{"from": ctx["end"], "dir": "f", "limit": 10})
    assert _bodies(newer["chunk"]) == ["m8", "m9"]
    # With limit 0 the tokens sit right around the event itself.
    ctx = await _context(alice, room, ids[5], limit=0)
    assert ctx["events_before"] == []
    assert ctx["events_after"] == []
    older = await alice.messages(room, **{"from": ctx["start"], "dir": "b", "limit": 1})
    assert _bodies(older["chunk"]) == ["m4"]
    newer = await alice.messages(room, **{"from": ctx["end"], "dir": "f", "limit": 1})
    assert _bodies(newer["chunk"]) == ["m6"]


async def test_context_at_the_ends_of_the_room(alice: MatrixTestClient) -> None:
    room, ids = await _room_of_ten(alice)
    last = await _context(alice, room, ids[9], limit=6)
    assert _bodies(last["events_before"]) == ["m8", "m7", "m6"]
    assert last["events_after"] == []
    newer = await alice.messages(room, **{"from": last["end"], "dir": "f"})
    assert newer["chunk"] == []
    # The room's first event: nothing before it, and /messages back from there is empty.
    first = await alice.messages(room, dir="f", limit=1)
    first_id = first["chunk"][0]["event_id"]
    ctx = await _context(alice, room, first_id, limit=4)
    assert ctx["event"]["type"] == "m.room.create"
    assert ctx["events_before"] == []
    older = await alice.messages(room, **{"from": ctx["start"], "dir": "b"})
    assert older["chunk"] == []


async def test_filter_applies_to_context_and_state_not_the_event(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await alice.send(room, "a0")
    await bob.send(room, "b0")
    middle = await alice.send(room, "a1")
    await bob.send(room, "b1")
    await alice.send(room, "a2")
    only_alice = json.dumps({"senders": [alice.user_id]})
    ctx = await _context(alice, room, middle, limit=4, filter=only_alice)
    assert _bodies(ctx["events_before"]) == ["a0"]  # then Alice's own membership events
    assert _bodies(ctx["events_after"]) == ["a2"]
    assert {e["sender"] for e in ctx["events_before"] + ctx["events_after"]} == {alice.user_id}
    assert {e["sender"] for e in ctx["state"]} == {alice.user_id}
    # The event itself is never filtered out.
    ctx = await _context(alice, room, middle, filter=json.dumps({"senders": [bob.user_id]}))
    assert ctx["event"]["event_id"] == middle
    messages_only = json.dumps({"types": ["m.room.message"], "limit": 2})
    ctx = await _context(alice, room, middle, limit=10, filter=messages_only)
    assert _bodies(ctx["events_before"]) == ["b0"]  # the filter's limit caps `limit`
    assert _bodies(ctx["events_after"]) == ["b1"]
    assert ctx["state"] == []


async def test_lazy_loaded_members_are_the_senders_only(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await carol.join(room)
    await alice.send(room, "a0")
    middle = await bob.send(room, "b0")
    await alice.send(room, "a1")
    full = await _context(alice, room, middle, limit=2)
    members = {e["state_key"] for e in full["state"] if e["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id, carol.user_id}
    lazy = await _context(
        alice, room, middle, limit=2, filter=json.dumps({"lazy_load_members": True})
    )
    members = {e["state_key"] for e in lazy["state"] if e["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id}
    assert any(e["type"] == "m.room.create" for e in lazy["state"])


async def test_state_is_the_state_at_the_last_event_returned(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(preset="public_chat", name="first name")
    early = await alice.send(room, "early")
    await alice.ok("PUT", f"/rooms/{room}/state/m.room.name/", json={"name": "second name"})
    ctx = await _context(alice, room, early, limit=0)
    names = [e["content"]["name"] for e in ctx["state"] if e["type"] == "m.room.name"]
    assert names == ["first name"]
    ctx = await _context(alice, room, early, limit=4)
    names = [e["content"]["name"] for e in ctx["state"] if e["type"] == "m.room.name"]
    assert names == ["second name"]


async def test_history_visibility_is_respected(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    )
    hidden = await alice.send(room, "before bob")
    await bob.join(room)
    seen = await alice.send(room, "after bob")
    r = await bob.request("GET", f"/rooms/{room}/context/{hidden}")
    assert _err(r) == (404, "M_NOT_FOUND")
    ctx = await _context(bob, room, seen, limit=10)
    assert "before bob" not in _bodies(ctx["events_before"])
    assert ctx["events_before"][0]["state_key"] == bob.user_id  # his own join
    # Someone who never joined learns nothing, not even that the event exists.
    r = await carol.request("GET", f"/rooms/{room}/context/{seen}")
    assert _err(r) == (404, "M_NOT_FOUND")


async def test_bad_input_is_refused(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    room, ids = await _room_of_ten(alice)
    other = await bob.create_room()
    elsewhere = await bob.send(other, "not here")
    await bob.join(room)
    path = f"/rooms/{room}/context/{ids[0]}"
    for params in ({"limit": "-1"}, {"limit": "many"}):
        assert _err(await alice.request("GET", path, params=params)) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", path, params={"filter": "{not json"})
    assert _err(r) == (400, "M_BAD_JSON")
    r = await alice.request("GET", path, params={"filter": json.dumps({"types": "x"})})
    assert _err(r) == (400, "M_BAD_JSON")
    r = await alice.request("GET", f"/rooms/{room}/context/not-an-id")
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", f"/rooms/not-a-room/context/{ids[0]}")
    assert r.status_code == 400
    r = await alice.request("GET", f"/rooms/{room}/context/$unknown:test.local")
    assert _err(r) == (404, "M_NOT_FOUND")
    # An event of another room, asked for in this one, is not found here.
    r = await bob.request("GET", f"/rooms/{room}/context/{elsewhere}")
    assert _err(r) == (404, "M_NOT_FOUND")
    # A limit above the cap is served at the cap.
    ctx = await _context(alice, room, ids[5], limit=100_000)
    assert _bodies(ctx["events_after"]) == ["m6", "m7", "m8", "m9"]


async def test_context_steps_over_a_stretch_hidden_from_the_requester(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    )
    await bob.join(room)
    await alice.send(room, "first stay")
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    for i in range(15):
        await alice.send(room, f"away {i}")
    await bob.join(room)
    middle = await alice.send(room, "second stay")
    await alice.send(room, "last")
    ctx = await _context(bob, room, middle, limit=8)
    assert _bodies(ctx["events_before"]) == ["first stay"]
    assert [e["content"]["membership"] for e in ctx["events_before"][:2]] == ["join", "leave"]
    assert _bodies(ctx["events_after"]) == ["last"]
    older = await bob.messages(room, **{"from": ctx["start"], "dir": "b", "limit": 50})
    assert all(not b.startswith("away") for b in _bodies(older["chunk"]))
    # Forwards from before he left, the hidden stretch is stepped over the same way.
    forward = await bob.messages(room, **{"from": ctx["start"], "dir": "f", "limit": 50})
    assert _bodies(forward["chunk"]) == ["first stay", "second stay", "last"]
