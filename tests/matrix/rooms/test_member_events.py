"""Membership events as clients read them, on both engines: profiles on joins and invites,
a new join event after a profile change, the invitee's stripped state (the inviter's
member event, `is_direct`), and `unsigned.prev_content` / `prev_sender` /
`replaces_state` on state events wherever events are served."""

import json
from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import validate_schema

STRIPPED = "event-schemas/schema/core-event-schema/stripped_state.yaml"
CLIENT_EVENT = "api/client-server/definitions/client_event.yaml"


def _of(events: list[dict[str, Any]], ev_type: str, key: str = "") -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == ev_type and e.get("state_key") == key]


async def _member(who: MatrixTestClient, room: str, user_id: str) -> Any:
    return await who.ok("GET", f"/rooms/{room}/state/m.room.member/{user_id}")


async def _state_ids(who: MatrixTestClient, room: str) -> list[str]:
    return sorted(e["event_id"] for e in await who.ok("GET", f"/rooms/{room}/state"))


async def _set_profile(who: MatrixTestClient, name: str, avatar: str | None = None) -> None:
    await who.ok("PUT", f"/profile/{who.user_id}/displayname", json={"displayname": name})
    if avatar is not None:
        await who.ok("PUT", f"/profile/{who.user_id}/avatar_url", json={"avatar_url": avatar})


# --- profiles on member events --------------------------------------------------------


async def test_joins_and_invites_carry_the_targets_profile(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await _set_profile(alice, "Alice A.", "mxc://test.local/alice")
    await _set_profile(bob, "Bob B.", "mxc://test.local/bob")
    room = await alice.create_room(invite=[bob.user_id])
    assert await _member(alice, room, alice.user_id) == {
        "membership": "join",
        "displayname": "Alice A.",
        "avatar_url": "mxc://test.local/alice",
    }
    # The invite carries the invitee's profile (not the inviter's), as Synapse's does.
    assert await _member(alice, room, bob.user_id) == {
        "membership": "invite",
        "displayname": "Bob B.",
        "avatar_url": "mxc://test.local/bob",
    }
    await alice.invite(room, carol.user_id)
    assert await _member(alice, room, carol.user_id) == {
        "membership": "invite",
        "displayname": "carol",
    }
    await bob.join(room)
    assert (await _member(alice, room, bob.user_id))["displayname"] == "Bob B."
    # A leave carries no profile.
    await carol.ok("POST", f"/rooms/{room}/leave", json={})
    assert await _member(alice, room, carol.user_id) == {"membership": "leave"}
    # A per-room name the member sets themself stays.
    await bob.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.member/{bob.user_id}",
        json={"membership": "join", "displayname": "Bobby here"},
    )
    member = await _member(alice, room, bob.user_id)
    assert member == {
        "membership": "join",
        "displayname": "Bobby here",
        "avatar_url": "mxc://test.local/bob",
    }


async def test_joining_again_unchanged_sends_no_event(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")
    before = (await alice.sync())["next_batch"]
    await alice.join(room)
    await alice.join(room)
    after = await alice.sync(since=before, timeout=0)
    assert room not in after["rooms"]["join"]


async def test_a_profile_change_sends_a_join_event_to_each_joined_room(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    first = await alice.create_room(preset="public_chat")
    second = await alice.create_room(preset="public_chat")
    left = await alice.create_room(preset="public_chat")
    for room in (first, second, left):
        await bob.join(room)
    await bob.ok("POST", f"/rooms/{left}/leave", json={})
    since = (await alice.sync())["next_batch"]

    await _set_profile(bob, "Robert")

    synced = await alice.sync(since=since)
    for room in (first, second):
        timeline = synced["rooms"]["join"][room]["timeline"]["events"]
        (event,) = _of(timeline, "m.room.member", bob.user_id)
        assert event["sender"] == bob.user_id
        assert event["content"] == {"membership": "join", "displayname": "Robert"}
        assert event["unsigned"]["prev_content"] == {"membership": "join", "displayname": "bob"}
        assert event["unsigned"]["prev_sender"] == bob.user_id
        assert event["unsigned"]["replaces_state"].startswith("$")
    assert left not in synced["rooms"]["join"]
    assert (await _member(alice, left, bob.user_id))["membership"] == "leave"
    members = await alice.ok("GET", f"/rooms/{first}/joined_members")
    assert members["joined"][bob.user_id]["display_name"] == "Robert"

    # Setting the same name again changes nothing anywhere.
    since = synced["next_batch"]
    await _set_profile(bob, "Robert")
    assert first not in (await alice.sync(since=since, timeout=0))["rooms"]["join"]


# --- invite_state ----------------------------------------------------------------------


async def test_a_direct_invite_shows_the_inviter_and_the_rooms_stripped_state(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await _set_profile(alice, "Alice Liddell", "mxc://test.local/a")
    room = await alice.create_room(
        preset="trusted_private_chat",
        invite=[bob.user_id],
        is_direct=True,
        name="Tea",
        topic="Mad hatters",
        room_alias_name="tea",
        initial_state=[
            {"type": "m.room.avatar", "state_key": "", "content": {"url": "mxc://test.local/t"}}
        ],
    )
    sync = await bob.sync()
    events = sync["rooms"]["invite"][room]["invite_state"]["events"]
    for event in events:
        validate_schema(STRIPPED, event)
        assert set(event) == {"type", "state_key", "content", "sender"}
    by_key = {(e["type"], e["state_key"]): e for e in events}
    assert by_key[("m.room.member", alice.user_id)] == {
        "type": "m.room.member",
        "state_key": alice.user_id,
        "sender": alice.user_id,
        "content": {
            "membership": "join",
            "displayname": "Alice Liddell",
            "avatar_url": "mxc://test.local/a",
        },
    }
    invite = by_key[("m.room.member", bob.user_id)]
    assert invite["sender"] == alice.user_id
    assert invite["content"] == {"membership": "invite", "is_direct": True, "displayname": "bob"}
    assert by_key[("m.room.name", "")]["content"] == {"name": "Tea"}
    assert by_key[("m.room.topic", "")]["content"] == {"topic": "Mad hatters"}
    assert by_key[("m.room.avatar", "")]["content"] == {"url": "mxc://test.local/t"}
    assert by_key[("m.room.canonical_alias", "")]["content"] == {"alias": "#tea:test.local"}
    assert by_key[("m.room.join_rules", "")]["content"] == {"join_rule": "invite"}
    assert by_key[("m.room.encryption", "")]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert ("m.room.create", "") in by_key
    assert set(by_key) == {
        ("m.room.create", ""),
        ("m.room.join_rules", ""),
        ("m.room.name", ""),
        ("m.room.topic", ""),
        ("m.room.avatar", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.encryption", ""),
        ("m.room.member", alice.user_id),
        ("m.room.member", bob.user_id),
    }


# --- unsigned.prev_content / prev_sender / replaces_state -----------------------------


async def test_replaced_state_is_named_in_unsigned_everywhere_events_are_served(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", name="Old")
    await bob.join(room)
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.power_levels",
        json={"users": {alice.user_id: 100, bob.user_id: 50}},
    )
    (old,) = _of(await alice.ok("GET", f"/rooms/{room}/state"), "m.room.name")
    assert "replaces_state" not in old["unsigned"]
    assert "prev_content" not in old["unsigned"]
    since = (await alice.sync())["next_batch"]
    new_id = (await bob.ok("PUT", f"/rooms/{room}/state/m.room.name", json={"name": "New"}))[
        "event_id"
    ]
    expected = {"prev_content": {"name": "Old"}, "prev_sender": alice.user_id}

    def check(event: dict[str, Any]) -> None:
        assert event["event_id"] == new_id
        assert event["unsigned"]["replaces_state"] == old["event_id"]
        for key, value in expected.items():
            assert event["unsigned"][key] == value, key

    # /event, /state, /messages, the /sync timeline and (limited) /sync state.
    by_id = await alice.ok("GET", f"/rooms/{room}/event/{new_id}")
    validate_schema(CLIENT_EVENT, by_id)
    check(by_id)
    (from_state,) = _of(await alice.ok("GET", f"/rooms/{room}/state"), "m.room.name")
    check(from_state)
    chunk = (await alice.messages(room, dir="b", limit=5))["chunk"]
    check(_of(chunk, "m.room.name")[0])
    timeline = (await alice.sync(since=since))["rooms"]["join"][room]["timeline"]["events"]
    check(_of(timeline, "m.room.name")[0])
    for i in range(3):
        await alice.send(room, f"after {i}")
    limited = await alice.sync(filter=json.dumps({"room": {"timeline": {"limit": 1}}}))
    check(_of(limited["rooms"]["join"][room]["state"]["events"], "m.room.name")[0])


async def test_redacting_replaced_state_prunes_the_copy_its_successor_holds(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(name="Private thoughts")
    (old,) = _of(await alice.ok("GET", f"/rooms/{room}/state"), "m.room.name")
    new_id = (await alice.ok("PUT", f"/rooms/{room}/state/m.room.name", json={"name": "Ok"}))[
        "event_id"
    ]
    await alice.ok("PUT", f"/rooms/{room}/redact/{old['event_id']}/r1", json={})
    event = await alice.ok("GET", f"/rooms/{room}/event/{new_id}")
    assert event["unsigned"]["prev_content"] == {}
    assert event["unsigned"]["replaces_state"] == old["event_id"]
    assert event["content"] == {"name": "Ok"}


async def test_a_refused_member_change_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(invite=[bob.user_id])
    before = await _state_ids(alice, room)
    path = f"/rooms/{room}/state/m.room.member/{bob.user_id}"
    for body, status in (
        ({"membership": 5}, 400),
        ({"membership": "join", "displayname": "x"}, 403),  # only Bob may join Bob
        ({"membership": "dance"}, 403),
    ):
        r = await alice.request("PUT", path, json=body)
        assert r.status_code == status, body
    r = await bob.request("PUT", f"/profile/{bob.user_id}/displayname", json={"displayname": 1})
    assert r.status_code == 400
    assert await _state_ids(alice, room) == before
