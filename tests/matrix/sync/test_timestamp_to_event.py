"""`GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` over HTTP: the closest visible
event in either direction, the edges of a room's history, history visibility and bad input
(both engines; every answer is checked against the spec's schema)."""

import asyncio
from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1"


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _closest(client: MatrixTestClient, room: str, **params: Any) -> httpx.Response:
    return await client.http.get(
        f"{V1}/rooms/{room}/timestamp_to_event", params=params, headers=client.headers
    )


async def _found(client: MatrixTestClient, room: str, ts: int, direction: str) -> str:
    r = await _closest(client, room, ts=ts, dir=direction)
    assert r.status_code == 200, r.text
    event_id: str = r.json()["event_id"]
    return event_id


async def _spaced_messages(client: MatrixTestClient, room: str, n: int) -> list[dict[str, Any]]:
    """`n` messages at distinct milliseconds, with their stored timestamps."""
    out = []
    for i in range(n):
        await asyncio.sleep(0.003)
        event_id = await client.send(room, f"m{i}")
        out.append(await client.ok("GET", f"/rooms/{room}/event/{event_id}"))
    return out


async def test_closest_event_in_each_direction(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")
    m = await _spaced_messages(alice, room, 3)
    ts = [e["origin_server_ts"] for e in m]
    assert ts[0] < ts[1] < ts[2]
    # On an event's own timestamp both directions find it.
    assert await _found(alice, room, ts[1], "f") == m[1]["event_id"]
    assert await _found(alice, room, ts[1], "b") == m[1]["event_id"]
    r = await _closest(alice, room, ts=ts[1], dir="f")
    assert r.json() == {"event_id": m[1]["event_id"], "origin_server_ts": ts[1]}
    # Between two events: the next one forwards, the previous one backwards.
    if ts[1] + 1 < ts[2]:
        assert await _found(alice, room, ts[1] + 1, "f") == m[2]["event_id"]
        assert await _found(alice, room, ts[1] + 1, "b") == m[1]["event_id"]


async def test_before_the_first_and_after_the_last_event(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")
    m = await _spaced_messages(alice, room, 2)
    first = (await alice.messages(room, dir="f", limit=1))["chunk"][0]
    assert first["type"] == "m.room.create"
    # Before the room existed: forwards finds its creation, backwards nothing.
    assert await _found(alice, room, 0, "f") == first["event_id"]
    assert _err(await _closest(alice, room, ts=0, dir="b")) == (404, "M_NOT_FOUND")
    # After the last event: backwards finds it, forwards nothing.
    later = m[-1]["origin_server_ts"] + 60_000
    assert await _found(alice, room, later, "b") == m[-1]["event_id"]
    assert _err(await _closest(alice, room, ts=later, dir="f")) == (404, "M_NOT_FOUND")


async def test_events_the_requester_may_not_see_are_skipped(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    )
    first, hidden = await _spaced_messages(alice, room, 2)
    await asyncio.sleep(0.003)
    await bob.join(room)
    seen = (await _spaced_messages(alice, room, 1))[0]
    # Backwards from the hidden messages, Bob skips them to the room's setup (sent while
    # history was still `shared`, before the `joined` setting took effect).
    found = await _found(bob, room, hidden["origin_server_ts"], "b")
    assert found not in (first["event_id"], hidden["event_id"])
    event = await alice.ok("GET", f"/rooms/{room}/event/{found}")
    assert "state_key" in event
    assert await _found(alice, room, hidden["origin_server_ts"], "b") == hidden["event_id"]
    # Forwards from them: the first event he may see is his own join.
    join = await _found(bob, room, first["origin_server_ts"], "f")
    event = await bob.ok("GET", f"/rooms/{room}/event/{join}")
    assert (event["type"], event["state_key"]) == ("m.room.member", bob.user_id)
    assert await _found(bob, room, seen["origin_server_ts"], "b") == seen["event_id"]
    # Someone who never joined a room that is not world-readable is refused outright.
    r = await _closest(carol, room, ts=0, dir="f")
    assert _err(r) == (403, "M_FORBIDDEN")


async def test_bad_input_is_refused(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    for params in (
        {"ts": "0", "dir": "x"},
        {"ts": "yesterday", "dir": "f"},
        {"ts": "-1", "dir": "f"},
        {"ts": str(2**70), "dir": "b"},
    ):
        assert _err(await _closest(alice, room, **params)) == (400, "M_INVALID_PARAM"), params
    assert _err(await _closest(alice, room, dir="f")) == (400, "M_MISSING_PARAM")
    assert _err(await _closest(alice, room, ts="0")) == (400, "M_MISSING_PARAM")
    r = await _closest(alice, "not-a-room", ts=0, dir="f")
    assert r.status_code == 400
    r = await alice.http.get(f"{V1}/rooms/{room}/timestamp_to_event", params={"ts": 0, "dir": "f"})
    assert _err(r) == (401, "M_MISSING_TOKEN")
