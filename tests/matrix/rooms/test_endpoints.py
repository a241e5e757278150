"""Room endpoints over HTTP: createRoom, membership, state, send, redact, ephemeral, errors."""

from typing import Any

import httpx

from tests.helpers.matrix import V3, MatrixTestClient


async def _second_device(http: httpx.AsyncClient, user: MatrixTestClient) -> MatrixTestClient:
    r = await http.post(
        f"{V3}/login",
        json={"type": "m.login.password", "user": user.user_id, "password": "correct horse"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return MatrixTestClient(http, body["user_id"], body["access_token"], body["device_id"])


async def _state(user: MatrixTestClient, room: str, ev_type: str, key: str = "") -> Any:
    return await user.ok("GET", f"/rooms/{room}/state/{ev_type}/{key}")


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


# --- /createRoom ---------------------------------------------------------------------


async def test_create_room_public_preset_sets_name_topic_and_join_rule(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", name="Lobby", topic="Say hi")
    assert room.startswith("!")
    assert room.endswith(":test.local")
    assert await _state(alice, room, "m.room.join_rules") == {"join_rule": "public"}
    assert await _state(alice, room, "m.room.name") == {"name": "Lobby"}
    assert await _state(alice, room, "m.room.topic") == {"topic": "Say hi"}
    create = await _state(alice, room, "m.room.create")
    assert create["creator"] == alice.user_id
    await bob.join(room)  # public: no invite needed
    assert bob.user_id in (await alice.ok("GET", f"/rooms/{room}/joined_members"))["joined"]


async def test_create_room_private_preset_needs_invite(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat")
    assert await _state(alice, room, "m.room.join_rules") == {"join_rule": "invite"}
    r = await bob.request("POST", f"/join/{room}", json={})
    assert _err(r) == (403, "M_FORBIDDEN")
    assert await bob.ok("GET", "/joined_rooms") == {"joined_rooms": []}


async def test_create_room_trusted_private_direct_invite_gets_admin_and_is_direct(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(
        preset="trusted_private_chat", invite=[bob.user_id], is_direct=True
    )
    pl = await _state(alice, room, "m.room.power_levels")
    assert pl["users"] == {alice.user_id: 100, bob.user_id: 100}
    member = await _state(alice, room, "m.room.member", bob.user_id)
    # The invitee's profile rides on the invite, so the room shows them by name.
    assert member == {"membership": "invite", "is_direct": True, "displayname": "bob"}


async def test_create_room_initial_state_and_power_level_override(alice: MatrixTestClient) -> None:
    room = await alice.create_room(
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
            {"type": "org.example.custom", "state_key": "k", "content": {"v": 1}},
        ],
        power_level_content_override={"events_default": 50},
    )
    vis = await _state(alice, room, "m.room.history_visibility")
    assert vis == {"history_visibility": "joined"}
    assert await _state(alice, room, "org.example.custom", "k") == {"v": 1}
    pl = await _state(alice, room, "m.room.power_levels")
    assert pl["events_default"] == 50
    assert pl["users"] == {alice.user_id: 100}


async def test_create_room_with_alias_then_join_by_alias(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", room_alias_name="lobby")
    assert await _state(alice, room, "m.room.canonical_alias") == {"alias": "#lobby:test.local"}
    r = await bob.ok("POST", "/join/%23lobby:test.local", json={})
    assert r == {"room_id": room}
    assert await bob.ok("GET", "/joined_rooms") == {"joined_rooms": [room]}


async def test_create_room_with_taken_alias_creates_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await alice.create_room(room_alias_name="taken")
    r = await bob.request("POST", "/createRoom", json={"room_alias_name": "taken"})
    assert _err(r) == (400, "M_ROOM_IN_USE")
    assert await bob.ok("GET", "/joined_rooms") == {"joined_rooms": []}


async def test_create_room_bad_input_creates_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    for body, code in (
        ({"preset": "nope"}, "M_BAD_JSON"),
        ({"name": 5}, "M_BAD_JSON"),
        ({"invite": "not-a-list"}, "M_BAD_JSON"),
        ({"room_alias_name": "has space"}, "M_INVALID_PARAM"),
        ({"invite": ["not a user id"]}, "M_INVALID_PARAM"),
        ({"room_version": "1"}, "M_UNSUPPORTED_ROOM_VERSION"),
    ):
        r = await alice.request("POST", "/createRoom", json=body)
        assert _err(r) == (400, code), body
    r = await http.post(f"{V3}/createRoom", json={})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", "/joined_rooms") == {"joined_rooms": []}


# --- membership ----------------------------------------------------------------------


async def test_membership_actions_return_empty_objects(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    reason = {"user_id": bob.user_id, "reason": "r"}
    assert await alice.ok("POST", f"/rooms/{room}/invite", json={"user_id": bob.user_id}) == {}
    assert await bob.ok("POST", f"/rooms/{room}/join", json={}) == {"room_id": room}
    assert await alice.ok("POST", f"/rooms/{room}/kick", json=reason) == {}
    assert await alice.ok("POST", f"/rooms/{room}/ban", json=reason) == {}
    assert (await _state(alice, room, "m.room.member", bob.user_id))["membership"] == "ban"
    assert await alice.ok("POST", f"/rooms/{room}/unban", json={"user_id": bob.user_id}) == {}
    assert (await _state(alice, room, "m.room.member", bob.user_id))["membership"] == "leave"
    assert await bob.ok("POST", f"/rooms/{room}/forget", json={}) == {}
    assert await alice.ok("POST", f"/rooms/{room}/leave", json={}) == {}
    assert await alice.ok("GET", "/joined_rooms") == {"joined_rooms": []}


async def test_joined_members_and_members_list_the_room(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(invite=[bob.user_id, carol.user_id])
    await bob.join(room)
    joined = (await alice.ok("GET", f"/rooms/{room}/joined_members"))["joined"]
    assert joined == {
        alice.user_id: {"display_name": "alice"},
        bob.user_id: {"display_name": "bob"},
    }
    chunk = (await alice.ok("GET", f"/rooms/{room}/members"))["chunk"]
    assert {e["state_key"]: e["content"]["membership"] for e in chunk} == {
        alice.user_id: "join",
        bob.user_id: "join",
        carol.user_id: "invite",
    }
    invited = await alice.ok("GET", f"/rooms/{room}/members", params={"membership": "invite"})
    assert [e["state_key"] for e in invited["chunk"]] == [carol.user_id]


async def test_members_of_a_room_you_are_not_in_are_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    for path in ("joined_members", "members", "state"):
        r = await bob.request("GET", f"/rooms/{room}/{path}")
        assert _err(r) == (403, "M_FORBIDDEN"), path


async def test_invite_unknown_user_or_by_non_member_changes_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room()
    r = await alice.request("POST", f"/rooms/{room}/invite", json={"user_id": "@ghost:test.local"})
    assert _err(r) == (404, "M_NOT_FOUND")
    r = await bob.request("POST", f"/rooms/{room}/invite", json={"user_id": carol.user_id})
    assert _err(r) == (403, "M_FORBIDDEN")
    r = await alice.request("POST", f"/rooms/{room}/invite", json={"user": bob.user_id})
    assert _err(r) == (400, "M_MISSING_PARAM")
    members = (await alice.ok("GET", f"/rooms/{room}/members"))["chunk"]
    assert [e["state_key"] for e in members] == [alice.user_id]


async def test_forget_while_joined_is_refused(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    r = await alice.request("POST", f"/rooms/{room}/forget", json={})
    assert r.status_code == 400
    assert await alice.ok("GET", "/joined_rooms") == {"joined_rooms": [room]}


# --- state and power levels ----------------------------------------------------------


async def test_state_put_and_get(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    r = await alice.ok("PUT", f"/rooms/{room}/state/m.room.name", json={"name": "New"})
    assert r["event_id"].startswith("$")
    assert await _state(alice, room, "m.room.name") == {"name": "New"}
    state = await alice.ok("GET", f"/rooms/{room}/state")
    assert {"type": "m.room.name", "content": {"name": "New"}}.items() <= next(
        e for e in state if e["type"] == "m.room.name"
    ).items()
    r = await alice.request("GET", f"/rooms/{room}/state/m.room.topic")
    assert _err(r) == (404, "M_NOT_FOUND")


async def test_user_with_power_level_zero_cannot_set_room_name(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", name="Original")
    await bob.join(room)
    r = await bob.request("PUT", f"/rooms/{room}/state/m.room.name", json={"name": "Hijack"})
    assert _err(r) == (403, "M_FORBIDDEN")
    assert await _state(alice, room, "m.room.name") == {"name": "Original"}


async def test_moderator_cannot_kick_higher_power_level_user(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(
        preset="public_chat",
        power_level_content_override={"users": {"@alice:test.local": 100, "@bob:test.local": 50}},
    )
    await bob.join(room)
    r = await bob.request("POST", f"/rooms/{room}/kick", json={"user_id": alice.user_id})
    assert _err(r) == (403, "M_FORBIDDEN")
    r = await bob.request("POST", f"/rooms/{room}/ban", json={"user_id": alice.user_id})
    assert _err(r) == (403, "M_FORBIDDEN")
    assert (await _state(alice, room, "m.room.member", alice.user_id))["membership"] == "join"


async def test_state_put_with_bad_body_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    room = await alice.create_room(name="Kept")
    r = await alice.request("PUT", f"/rooms/{room}/state/m.room.name", json=["x"])
    assert _err(r) == (400, "M_BAD_JSON")
    r = await alice.request("PUT", f"/rooms/{room}/state/m.room.name", content=b"{broken")
    assert _err(r) == (400, "M_NOT_JSON")
    r = await http.put(f"{V3}/rooms/{room}/state/m.room.name", json={"name": "x"})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    r = await alice.request("PUT", f"/rooms/{room}/state/m.room.create", json={})
    assert _err(r) == (403, "M_FORBIDDEN")
    assert await _state(alice, room, "m.room.name") == {"name": "Kept"}


# --- send, event, redact -------------------------------------------------------------


async def test_send_is_idempotent_per_device_and_transaction(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    first = await alice.send(room, "hi", txn="same")
    assert await alice.send(room, "hi again", txn="same") == first
    assert await alice.send(room, "hi", txn="other") != first
    phone = await _second_device(http, alice)
    assert await phone.send(room, "hi", txn="same") != first
    bodies = [
        e["content"]["body"]
        for e in (await alice.messages(room, limit=20))["chunk"]
        if e["type"] == "m.room.message"
    ]
    assert bodies == ["hi", "hi", "hi"]


async def test_get_event_returns_it_with_transaction_id_for_sender_device(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    event_id = await alice.send(room, "hello", txn="tx1")
    ev = await alice.ok("GET", f"/rooms/{room}/event/{event_id}")
    assert (ev["event_id"], ev["sender"], ev["content"]["body"]) == (
        event_id,
        alice.user_id,
        "hello",
    )
    assert ev["unsigned"]["transaction_id"] == "tx1"
    seen_by_bob = await bob.ok("GET", f"/rooms/{room}/event/{event_id}")
    assert "transaction_id" not in seen_by_bob["unsigned"]
    r = await alice.request("GET", f"/rooms/{room}/event/$missing")
    assert _err(r) == (404, "M_NOT_FOUND")


async def test_get_event_of_room_you_are_not_in_is_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    event_id = await alice.send(room, "secret")
    r = await bob.request("GET", f"/rooms/{room}/event/{event_id}")
    assert _err(r) == (403, "M_FORBIDDEN")


async def test_redact_prunes_content(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    event_id = await alice.send(room, "oops")
    r = await alice.ok("PUT", f"/rooms/{room}/redact/{event_id}/r1", json={"reason": "typo"})
    ev = await alice.ok("GET", f"/rooms/{room}/event/{event_id}")
    assert ev["content"] == {}
    assert ev["unsigned"]["redacted_because"]["event_id"] == r["event_id"]
    again = await alice.ok("PUT", f"/rooms/{room}/redact/{event_id}/r1", json={})
    assert again == r  # idempotent per transaction


async def test_redacting_another_users_event_without_power_is_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    event_id = await alice.send(room, "mine")
    r = await bob.request("PUT", f"/rooms/{room}/redact/{event_id}/r1", json={})
    assert _err(r) == (403, "M_FORBIDDEN")
    ev = await alice.ok("GET", f"/rooms/{room}/event/{event_id}")
    assert ev["content"]["body"] == "mine"


async def test_non_member_cannot_send(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    room = await alice.create_room()
    r = await bob.request(
        "PUT", f"/rooms/{room}/send/m.room.message/t1", json={"msgtype": "m.text", "body": "x"}
    )
    assert _err(r) == (403, "M_FORBIDDEN")
    chunk = (await alice.messages(room, limit=50))["chunk"]
    assert all(e["sender"] == alice.user_id for e in chunk)


async def test_send_with_bad_input_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    before = [e["event_id"] for e in (await alice.messages(room, limit=50))["chunk"]]
    send = f"/rooms/{room}/send/m.room.message"
    assert _err(await alice.request("PUT", f"{send}/a", content=b"{not json")) == (
        400,
        "M_NOT_JSON",
    )
    assert _err(await alice.request("PUT", f"{send}/b", json=[1, 2])) == (400, "M_BAD_JSON")
    assert _err(await alice.request("PUT", f"{send}/c", json="str")) == (400, "M_BAD_JSON")
    big = {"body": "x" * 70_000}
    assert _err(await alice.request("PUT", f"{send}/d", json=big)) == (413, "M_TOO_LARGE")
    r = await alice.request("PUT", "/rooms/not-a-room/send/m.room.message/e", json={"body": "x"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await http.put(f"{V3}{send}/f", json={"body": "x"})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    r = await http.put(f"{V3}{send}/g", headers={"Authorization": "Bearer bad"}, json={})
    assert _err(r) == (401, "M_UNKNOWN_TOKEN")
    assert [e["event_id"] for e in (await alice.messages(room, limit=50))["chunk"]] == before


async def test_unknown_endpoint_and_wrong_method_are_unrecognized(alice: MatrixTestClient) -> None:
    assert _err(await alice.request("GET", "/no/such/endpoint")) == (404, "M_UNRECOGNIZED")
    room = await alice.create_room()
    r = await alice.request("POST", f"/rooms/{room}/frobnicate", json={"user_id": alice.user_id})
    assert _err(r) == (404, "M_UNRECOGNIZED")
    assert _err(await alice.request("GET", "/createRoom")) == (405, "M_UNRECOGNIZED")


# --- typing and receipts -------------------------------------------------------------


async def test_typing_is_accepted_and_seen_by_others(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    body = {"typing": True, "timeout": 10000}
    assert await alice.ok("PUT", f"/rooms/{room}/typing/{alice.user_id}", json=body) == {}
    ephemeral = (await bob.sync())["rooms"]["join"][room]["ephemeral"]["events"]
    assert {"type": "m.typing", "content": {"user_ids": [alice.user_id]}} in ephemeral


async def test_typing_for_another_user_or_bad_body_is_rejected(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    r = await bob.request("PUT", f"/rooms/{room}/typing/{alice.user_id}", json={"typing": True})
    assert _err(r) == (403, "M_FORBIDDEN")
    r = await bob.request("PUT", f"/rooms/{room}/typing/{bob.user_id}", json={"typing": "yes"})
    assert _err(r) == (400, "M_BAD_JSON")
    ephemeral = (await alice.sync())["rooms"]["join"][room]["ephemeral"]["events"]
    assert not [e for e in ephemeral if e["type"] == "m.typing"]


async def test_read_receipt_is_accepted_and_synced(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    event_id = await alice.send(room, "read me")
    assert await bob.ok("POST", f"/rooms/{room}/receipt/m.read/{event_id}", json={}) == {}
    ephemeral = (await alice.sync())["rooms"]["join"][room]["ephemeral"]["events"]
    receipt = next(e for e in ephemeral if e["type"] == "m.receipt")
    assert bob.user_id in receipt["content"][event_id]["m.read"]


async def test_receipt_with_bad_type_or_outside_room_is_rejected(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    event_id = await alice.send(room, "x")
    r = await alice.request("POST", f"/rooms/{room}/receipt/m.bogus/{event_id}", json={})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await bob.request("POST", f"/rooms/{room}/receipt/m.read/{event_id}", json={})
    assert _err(r) == (403, "M_FORBIDDEN")
    ephemeral = (await alice.sync())["rooms"]["join"][room]["ephemeral"]["events"]
    assert not [e for e in ephemeral if e["type"] == "m.receipt"]
