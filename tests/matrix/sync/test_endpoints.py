"""/sync and /messages over HTTP: initial, incremental, long-poll, filters, invites, leaves,
history visibility and paging."""

import asyncio
import json
import time
from typing import Any

import httpx

from tests.helpers.matrix import V3, MatrixTestClient

MESSAGES_ONLY = json.dumps({"types": ["m.room.message"]})


def _bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


def _timeline(sync: dict[str, Any], room: str, section: str = "join") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sync["rooms"][section][room]["timeline"]["events"]
    return events


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


# --- initial and incremental ---------------------------------------------------------


async def test_initial_sync_has_room_state_and_timeline(alice: MatrixTestClient) -> None:
    room = await alice.create_room(name="Den")
    await alice.send(room, "first")
    sync = await alice.sync()
    assert sync["next_batch"]
    joined = sync["rooms"]["join"][room]
    assert _bodies(joined["timeline"]["events"]) == ["first"]
    types = {e["type"] for e in joined["timeline"]["events"] + joined["state"]["events"]}
    assert {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.name"} <= types
    assert joined["summary"]["m.joined_member_count"] == 1


async def test_incremental_sync_returns_only_new_events(alice: MatrixTestClient) -> None:
    busy = await alice.create_room()
    quiet = await alice.create_room()
    await alice.send(busy, "old")
    first = await alice.sync()
    await alice.send(busy, "new")
    second = await alice.sync(since=first["next_batch"])
    assert [e["content"].get("body") for e in _timeline(second, busy)] == ["new"]
    assert quiet not in second["rooms"]["join"]
    third = await alice.sync(since=second["next_batch"])
    assert third["rooms"]["join"] == {}


async def test_sync_rejects_missing_token_and_bad_since(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    assert _err(await http.get(f"{V3}/sync")) == (401, "M_MISSING_TOKEN")
    r = await alice.request("GET", "/sync", params={"since": "garbage"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", "/sync", params={"timeout": "-5"})
    assert _err(r) == (400, "M_INVALID_PARAM")


# --- long-poll -----------------------------------------------------------------------


async def test_long_poll_returns_when_a_message_arrives(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]

    async def send_later() -> None:
        await asyncio.sleep(0.2)
        await alice.send(room, "wake up")

    started = time.monotonic()
    sync, _ = await asyncio.gather(bob.sync(since=since, timeout=10_000), send_later())
    assert time.monotonic() - started < 5
    assert _bodies(_timeline(sync, room)) == ["wake up"]


async def test_long_poll_times_out_empty_when_nothing_happens(alice: MatrixTestClient) -> None:
    await alice.create_room()
    since = (await alice.sync())["next_batch"]
    started = time.monotonic()
    sync = await alice.sync(since=since, timeout=300)
    assert time.monotonic() - started >= 0.25
    assert sync["rooms"] == {"join": {}, "invite": {}, "leave": {}, "knock": {}}
    assert sync["next_batch"] == since


# --- filters -------------------------------------------------------------------------


async def test_inline_filter_timeline_limit_marks_limited_with_prev_batch(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room()
    for i in range(5):
        await alice.send(room, f"m{i}")
    sync = await alice.sync(filter=json.dumps({"room": {"timeline": {"limit": 2}}}))
    timeline = sync["rooms"]["join"][room]["timeline"]
    assert _bodies(timeline["events"]) == ["m3", "m4"]
    assert timeline["limited"] is True
    older = await alice.messages(room, **{"from": timeline["prev_batch"], "filter": MESSAGES_ONLY})
    assert _bodies(older["chunk"]) == ["m2", "m1", "m0"]


async def test_filter_by_id_applies_stored_filter(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    for i in range(4):
        await alice.send(room, f"m{i}")
    flt = {"room": {"timeline": {"limit": 1}}}
    filter_id = (await alice.ok("POST", f"/user/{alice.user_id}/filter", json=flt))["filter_id"]
    timeline = (await alice.sync(filter=filter_id))["rooms"]["join"][room]["timeline"]
    assert _bodies(timeline["events"]) == ["m3"]
    assert timeline["limited"] is True
    assert timeline["prev_batch"]


async def test_bad_filters_are_rejected(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    r = await alice.request("GET", "/sync", params={"filter": "{not json"})
    assert _err(r) == (400, "M_BAD_JSON")
    r = await alice.request(
        "GET", "/sync", params={"filter": '{"room": {"timeline": {"limit": "x"}}}'}
    )
    assert _err(r) == (400, "M_BAD_JSON")
    r = await alice.request("GET", "/sync", params={"filter": "12345"})
    assert _err(r) == (400, "M_BAD_JSON")
    # A filter id Alice never created (Bob's second one) is unknown to her.
    await bob.ok("POST", f"/user/{bob.user_id}/filter", json={})
    bobs = (await bob.ok("POST", f"/user/{bob.user_id}/filter", json={}))["filter_id"]
    r = await alice.request("GET", f"/user/{alice.user_id}/filter/{bobs}")
    assert _err(r) == (404, "M_NOT_FOUND")
    r = await alice.request("GET", "/sync", params={"filter": bobs})
    assert _err(r) == (400, "M_BAD_JSON")


# --- invites and leaves --------------------------------------------------------------


async def test_invite_appears_with_stripped_state(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(name="Secret club", invite=[bob.user_id])
    await alice.send(room, "not for invitees")
    sync = await bob.sync()
    assert room not in sync["rooms"]["join"]
    events = sync["rooms"]["invite"][room]["invite_state"]["events"]
    by_type = {(e["type"], e["state_key"]): e for e in events}
    assert by_type[("m.room.name", "")]["content"] == {"name": "Secret club"}
    assert by_type[("m.room.member", bob.user_id)]["content"]["membership"] == "invite"
    assert by_type[("m.room.member", bob.user_id)]["sender"] == alice.user_id
    assert all(set(e) == {"type", "state_key", "content", "sender"} for e in events)
    assert ("m.room.message", "") not in by_type
    assert ("m.room.power_levels", "") not in by_type


async def test_leaving_moves_room_to_leave_section(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    sync = await bob.sync(since=since)
    assert room not in sync["rooms"]["join"]
    last = _timeline(sync, room, "leave")[-1]
    assert (last["type"], last["state_key"], last["content"]["membership"]) == (
        "m.room.member",
        bob.user_id,
        "leave",
    )


async def test_kicked_user_sees_room_in_leave_but_not_later_messages(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    await alice.send(room, "before kick")
    await alice.ok("POST", f"/rooms/{room}/kick", json={"user_id": bob.user_id, "reason": "bye"})
    await alice.send(room, "after kick")
    sync = await bob.sync(since=since)
    timeline = _timeline(sync, room, "leave")
    assert _bodies(timeline) == ["before kick"]
    kick = timeline[-1]
    assert kick["sender"] == alice.user_id
    assert kick["content"] == {"membership": "leave", "reason": "bye"}
    r = await bob.request("GET", f"/rooms/{room}/messages", params={"dir": "f"})
    assert "after kick" not in _bodies(r.json()["chunk"])


# --- history visibility --------------------------------------------------------------


async def _room_with_history(alice: MatrixTestClient, visibility: str) -> str:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": visibility}}
        ],
    )
    await alice.send(room, "before join")
    return room


async def test_joined_visibility_hides_history_from_later_joiner(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _room_with_history(alice, "joined")
    await bob.join(room)
    await alice.send(room, "after join")
    page = await bob.messages(room, limit=50)
    assert _bodies(page["chunk"]) == ["after join"]
    assert _bodies(_timeline(await bob.sync(), room)) == ["after join"]


async def test_shared_visibility_shows_history_to_later_joiner(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _room_with_history(alice, "shared")
    await bob.join(room)
    await alice.send(room, "after join")
    page = await bob.messages(room, limit=50)
    assert _bodies(page["chunk"]) == ["after join", "before join"]
    assert _bodies(_timeline(await bob.sync(), room)) == ["before join", "after join"]


# --- /messages -----------------------------------------------------------------------


async def test_messages_pages_backwards_until_end_is_absent(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    for i in range(25):
        await alice.send(room, f"m{i:02}")
    seen: list[str] = []
    pages = 0
    token = None
    while True:
        params: dict[str, Any] = {"limit": 10, "filter": MESSAGES_ONLY}
        if token is not None:
            params["from"] = token
        page = await alice.messages(room, **params)
        pages += 1
        seen.extend(_bodies(page["chunk"]))
        if "end" not in page:
            break
        token = page["end"]
        assert pages < 5
    assert pages == 3
    assert seen == [f"m{i:02}" for i in reversed(range(25))]


async def test_messages_from_sync_tokens(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    for i in range(4):
        await alice.send(room, f"m{i}")
    sync = await alice.sync(filter=json.dumps({"room": {"timeline": {"limit": 1}}}))
    await alice.send(room, "later")
    from_next = await alice.messages(room, **{"from": sync["next_batch"], "filter": MESSAGES_ONLY})
    assert _bodies(from_next["chunk"]) == ["m3", "m2", "m1", "m0"]
    forward = await alice.messages(
        room, **{"from": sync["next_batch"], "dir": "f", "filter": MESSAGES_ONLY}
    )
    assert _bodies(forward["chunk"]) == ["later"]


async def test_messages_forward_from_start_is_oldest_first(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    await alice.send(room, "a")
    await alice.send(room, "b")
    page = await alice.messages(room, dir="f", limit=50)
    assert page["chunk"][0]["type"] == "m.room.create"
    assert _bodies(page["chunk"]) == ["a", "b"]
    assert "end" not in page


async def test_messages_rejects_bad_params_and_non_members(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    await alice.send(room, "private")
    r = await alice.request("GET", f"/rooms/{room}/messages", params={"from": "bogus"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", f"/rooms/{room}/messages", params={"dir": "x"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", "/rooms/not-a-room/messages")
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await bob.request("GET", f"/rooms/{room}/messages")
    assert _err(r) == (403, "M_FORBIDDEN")
    assert _err(await http.get(f"{V3}/rooms/{room}/messages")) == (401, "M_MISSING_TOKEN")


async def test_private_read_receipts_are_shown_only_to_their_owner(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    event_id = await alice.send(room, "read me privately")
    await bob.ok("POST", f"/rooms/{room}/receipt/m.read.private/{event_id}", json={})

    def private_readers(sync: dict[str, Any]) -> list[str]:
        ephemeral = sync["rooms"]["join"][room].get("ephemeral", {}).get("events", [])
        return [
            user
            for e in ephemeral
            if e["type"] == "m.receipt"
            for user in e["content"].get(event_id, {}).get("m.read.private", {})
        ]

    assert private_readers(await bob.sync()) == [bob.user_id]
    assert private_readers(await alice.sync()) == []
