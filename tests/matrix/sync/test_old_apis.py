"""The deprecated reads over HTTP: `GET /events/{eventId}` and a room's `/initialSync` are
served (history visibility applies), the old event stream `GET /events` and the global
`GET /initialSync` are refused with a reason (both engines; schemas checked)."""

from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


def _bodies(events: list[dict[str, Any]]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def test_an_event_by_id_alone(
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
    event = await bob.ok("GET", f"/events/{seen}")
    assert (event["event_id"], event["room_id"]) == (seen, room)
    assert event["content"]["body"] == "after bob"
    assert _err(await bob.request("GET", f"/events/{hidden}")) == (404, "M_NOT_FOUND")
    assert _err(await carol.request("GET", f"/events/{seen}")) == (404, "M_NOT_FOUND")
    r = await bob.request("GET", "/events/$unknown:test.local")
    assert _err(r) == (404, "M_NOT_FOUND")
    assert _err(await bob.request("GET", "/events/nope")) == (400, "M_INVALID_PARAM")


async def test_room_initial_sync_of_a_member(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat", name="the room")
    for i in range(25):
        await alice.send(room, f"m{i}")
    snap = await alice.ok("GET", f"/rooms/{room}/initialSync")
    assert snap["room_id"] == room
    assert snap["membership"] == "join"
    chunk = snap["messages"]["chunk"]
    assert len(chunk) == 20
    assert _bodies(chunk)[-1] == "m24"  # oldest first, ending with the newest
    names = [e["content"]["name"] for e in snap["state"] if e["type"] == "m.room.name"]
    assert names == ["the room"]
    # `start` continues backwards with /messages, `end` forwards (nothing newer yet).
    older = await alice.messages(room, **{"from": snap["messages"]["start"], "limit": 50})
    assert _bodies(older["chunk"])[:2] == ["m4", "m3"]
    await alice.send(room, "newer")
    newer = await alice.messages(room, **{"from": snap["messages"]["end"], "dir": "f"})
    assert _bodies(newer["chunk"]) == ["newer"]


async def test_room_initial_sync_of_a_former_member_ends_where_they_left(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", name="before")
    await bob.join(room)
    await alice.send(room, "while bob was here")
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    await alice.send(room, "after bob left")
    await alice.ok("PUT", f"/rooms/{room}/state/m.room.name/", json={"name": "after"})
    snap = await bob.ok("GET", f"/rooms/{room}/initialSync")
    assert snap["membership"] == "leave"
    assert _bodies(snap["messages"]["chunk"]) == ["while bob was here"]
    assert snap["messages"]["chunk"][-1]["state_key"] == bob.user_id
    names = [e["content"]["name"] for e in snap["state"] if e["type"] == "m.room.name"]
    assert names == ["before"]


async def test_room_initial_sync_peeks_only_into_world_readable_rooms(
    alice: MatrixTestClient, carol: MatrixTestClient
) -> None:
    private = await alice.create_room()
    r = await carol.request("GET", f"/rooms/{private}/initialSync")
    assert _err(r) == (403, "M_FORBIDDEN")
    readable = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            }
        ],
    )
    await alice.send(readable, "for anyone")
    snap = await carol.ok("GET", f"/rooms/{readable}/initialSync")
    assert "membership" not in snap
    assert _bodies(snap["messages"]["chunk"]) == ["for anyone"]
    r = await carol.request("GET", "/rooms/not-a-room/initialSync")
    assert r.status_code == 400


async def test_the_old_event_stream_and_global_initial_sync_are_refused(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room()
    for params in ({}, {"from": "s1_0", "timeout": "0"}, {"room_id": room}):
        r = await alice.request("GET", "/events", params=params)
        assert _err(r) == (404, "M_UNRECOGNIZED")
        assert "/sync" in r.json()["error"]
    r = await alice.request("GET", "/initialSync")
    assert _err(r) == (404, "M_UNRECOGNIZED")
    assert "/sync" in r.json()["error"]
