"""Every JSON body follows the Matrix canonical-JSON rules (issue 13 item 9).

`NaN`, `Infinity`, integers outside ±(2^53-1), non-finite numbers and repeated keys are
refused on every route with `400 M_BAD_JSON` (`CANDOR_BAD_JSON` on Candor's own APIs);
event content also refuses floats, as room versions 6+ require. Each refusal leaves
nothing behind. Account data may carry floats, as in Synapse.
"""

from typing import Any

import pytest

from tests.helpers.matrix import MatrixTestClient

BROKEN_VALUES = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"9007199254740992",
    b"-9007199254740992",
    b"1e400",
]


def _messages(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in timeline if e["type"] == "m.room.message"]


@pytest.mark.parametrize(
    "body",
    [
        *(b'{"msgtype": "m.text", "body": "x", "n": ' + v + b"}" for v in BROKEN_VALUES),
        b'{"msgtype": "m.text", "body": "x", "n": 1.5}',
        b'{"msgtype": "m.text", "body": "x", "n": 1.0}',
        b'{"msgtype": "m.text", "body": "x", "body": "y"}',
    ],
)
async def test_a_message_breaking_canonical_json_is_refused(
    alice: MatrixTestClient, body: bytes
) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.request("PUT", f"/rooms/{room}/send/m.room.message/t1", content=body)

    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_BAD_JSON"
    timeline = (await alice.sync())["rooms"]["join"][room]["timeline"]["events"]
    assert _messages(timeline) == []


async def test_the_largest_safe_integers_are_accepted_in_a_message(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(preset="public_chat")
    body = b'{"msgtype": "m.text", "body": "x", "hi": 9007199254740991, "lo": -9007199254740991}'

    await alice.ok("PUT", f"/rooms/{room}/send/m.room.message/t1", content=body)

    timeline = (await alice.sync())["rooms"]["join"][room]["timeline"]["events"]
    [message] = _messages(timeline)
    assert message["content"]["hi"] == 2**53 - 1
    assert message["content"]["lo"] == -(2**53 - 1)


@pytest.mark.parametrize(
    "body",
    [b'{"topic": "t", "n": 0.5}', b'{"topic": "t", "n": NaN}', b'{"topic": "a", "topic": "b"}'],
)
async def test_a_state_event_breaking_canonical_json_is_refused(
    alice: MatrixTestClient, body: bytes
) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.request("PUT", f"/rooms/{room}/state/m.room.topic/", content=body)

    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_BAD_JSON"
    state = await alice.ok("GET", f"/rooms/{room}/state")
    assert all(e["type"] != "m.room.topic" for e in state)


@pytest.mark.parametrize(
    "body",
    [
        {"initial_state": [{"type": "m.room.topic", "content": {"topic": "t", "n": 0.5}}]},
        {"power_level_content_override": {"users_default": 0.5}},
        {"creation_content": {"m.federate": True, "n": 2.5}},
    ],
)
async def test_create_room_with_a_float_in_event_content_creates_nothing(
    alice: MatrixTestClient, body: dict[str, object]
) -> None:
    r = await alice.request("POST", "/createRoom", json=body)

    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_BAD_JSON"
    assert (await alice.ok("GET", "/joined_rooms"))["joined_rooms"] == []


@pytest.mark.parametrize(
    "body",
    [*(b'{"n": ' + v + b"}" for v in BROKEN_VALUES), b'{"n": 1, "n": 2}'],
)
async def test_account_data_breaking_canonical_json_is_refused(
    alice: MatrixTestClient, body: bytes
) -> None:
    path = f"/user/{alice.user_id}/account_data/org.example.settings"

    r = await alice.request("PUT", path, content=body)

    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_BAD_JSON"
    assert (await alice.request("GET", path)).status_code == 404


async def test_account_data_may_carry_floats(alice: MatrixTestClient) -> None:
    """Account data is not an event: as in Synapse, finite floats are stored as given."""
    path = f"/user/{alice.user_id}/account_data/org.example.settings"

    await alice.ok("PUT", path, content=b'{"volume": 0.75}')

    assert await alice.ok("GET", path) == {"volume": 0.75}


@pytest.mark.parametrize(
    "body",
    [
        b'{"room": {"timeline": {"limit": NaN}}}',
        b'{"room": {"timeline": {"limit": 9007199254740992}}}',
        b'{"room": {"timeline": {"limit": 1}, "timeline": {"limit": 2}}}',
    ],
)
async def test_a_filter_breaking_canonical_json_is_refused(
    alice: MatrixTestClient, body: bytes
) -> None:
    r = await alice.request("POST", f"/user/{alice.user_id}/filter", content=body)

    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_BAD_JSON"


async def test_repeated_keys_in_a_login_body_are_refused(alice: MatrixTestClient) -> None:
    """Even before authentication: the rule is applied where every body is read."""
    r = await alice.http.post(
        "/_matrix/client/v3/login",
        content=b'{"type": "m.login.password", "user": "alice", "user": "bob", "password": "x"}',
    )

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"


async def test_candor_apis_answer_with_their_own_code(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.http.post(
        f"/_candor/v1/rooms/{room}/grants",
        headers=alice.headers,
        content=b'{"client_id": "a", "client_id": "b"}',
    )

    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_BAD_JSON"


@pytest.mark.parametrize("body", [b"{not json", b'{"body": "\xff"}'])
async def test_text_that_is_not_json_is_still_not_json(
    alice: MatrixTestClient, body: bytes
) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.request("PUT", f"/rooms/{room}/send/m.room.message/t1", content=body)

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_NOT_JSON"


async def test_deeply_nested_json_is_bad_json_not_a_server_error(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(preset="public_chat")
    body = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

    r = await alice.request("PUT", f"/rooms/{room}/send/m.room.message/t1", content=body)

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"
