"""An initial /sync reads its joined rooms set-wise (`sync/initial.py`); its answer must be
the room-by-room path's to the event. Both paths answer the same requests here, over rooms
made to catch each shortcut: long and short histories, state changed inside the timeline
(once and many times), history visibility hiding most of a room, a rejoin, invites,
receipts and mentions, and the filters (limit, types, not_types, state types,
lazy_load_members, rooms), with and without full_state."""

import json
from typing import Any

import pytest

from candor.matrix.sync.initial import InitialRooms
from tests.helpers.matrix import MatrixTestClient


def _without_age(value: Any) -> Any:  # Any: JSON
    """The answer with each event's `unsigned.age` dropped: it counts to the read's clock."""
    if isinstance(value, dict):
        return {k: _without_age(v) for k, v in value.items() if k != "age"}
    if isinstance(value, list):
        return [_without_age(v) for v in value]
    return value


async def _state(user: MatrixTestClient, room: str, event_type: str, content: Any) -> None:
    await user.ok("PUT", f"/rooms/{room}/state/{event_type}/", json=content)


async def _make_rooms(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    # A long public room: the timeline is limited, the name changes inside it.
    long = await alice.create_room(preset="public_chat", name="long")
    await bob.join(long)
    for i in range(25):
        await (alice if i % 2 else bob).send(long, f"long {i}")
    await _state(alice, long, "m.room.name", {"name": "long, renamed"})
    for i in range(3):
        await alice.send(long, f"after rename {i}")
    # A room whose topic changes many times at the end (state walked back far).
    topics = await alice.create_room(preset="public_chat", topic="t0")
    await bob.join(topics)
    for i in range(1, 15):
        await _state(alice, topics, "m.room.topic", {"topic": f"t{i}"})
    # History visible only while joined: bob joins late, most events are hidden from him.
    private = await alice.create_room(preset="public_chat", name="joined-only")
    await _state(alice, private, "m.room.history_visibility", {"history_visibility": "joined"})
    for i in range(30):
        await alice.send(private, f"before bob {i}")
    await bob.join(private)
    await alice.send(private, "after bob")
    # Bob leaves and comes back; carol is invited and has not answered.
    rejoin = await alice.create_room(preset="public_chat")
    await bob.join(rejoin)
    await bob.send(rejoin, "hello")
    await bob.ok("POST", f"/rooms/{rejoin}/leave", json={})
    await alice.send(rejoin, "while bob was away")
    await bob.join(rejoin)
    await alice.invite(rejoin, carol.user_id)
    # Unread counts: a mention, then a receipt partway.
    counted = await alice.create_room(preset="public_chat")
    await bob.join(counted)
    first = await alice.send(counted, "one")
    await alice.send(counted, "two")
    await alice.send(counted, f"hey {bob.user_id}")
    await bob.ok("POST", f"/rooms/{counted}/receipt/m.read/{first}", json={})
    # A short room, and one bob is only invited to.
    short = await alice.create_room(preset="public_chat")
    await bob.join(short)
    invited = await alice.create_room()
    await alice.invite(invited, bob.user_id)


FILTERS = [
    None,
    {"room": {"timeline": {"limit": 3}}},
    {"room": {"timeline": {"limit": 1}}},
    {"room": {"timeline": {"not_types": ["m.room.message"]}}},
    {"room": {"timeline": {"limit": 2, "types": ["m.room.topic"]}}},
    {"room": {"timeline": {"limit": 4, "not_senders": ["@alice:test.local"]}}},
    {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 5}}},
    {"room": {"state": {"types": ["m.room.name", "m.room.topic"]}}},
    {"room": {"timeline": {"limit": 50}}},
]


async def test_set_wise_initial_sync_is_the_room_by_room_answer(
    alice: MatrixTestClient,
    bob: MatrixTestClient,
    carol: MatrixTestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _make_rooms(alice, bob, carol)
    since = (await bob.sync())["next_batch"]
    requests: list[dict[str, str]] = []
    for flt in FILTERS:
        params = {} if flt is None else {"filter": json.dumps(flt)}
        requests.append(params)
        requests.append({**params, "since": since, "full_state": "true"})
    answers = {}
    for user in (alice, bob):
        for i, params in enumerate(requests):
            answers[user.user_id, i] = _without_age(await user.ok("GET", "/sync", params=params))
    assert len(answers[bob.user_id, 0]["rooms"]["join"]) == 6

    async def room_by_room(*_: Any) -> dict[str, Any]:  # Any: the method's arguments
        return {}

    monkeypatch.setattr(InitialRooms, "joined", room_by_room)
    for user in (alice, bob):
        for i, params in enumerate(requests):
            expected = _without_age(await user.ok("GET", "/sync", params=params))
            assert answers[user.user_id, i] == expected, (user.user_id, params)
