"""Room upgrades (`POST /rooms/{roomId}/upgrade`): the replacement room gets the old
room's state, bans and an invite for each member; the old room gets a tombstone and
locked power levels."""

from typing import Any

from tests.helpers.matrix import MatrixTestClient


async def _state(client: MatrixTestClient, room: str) -> dict[tuple[str, str], Any]:
    events = await client.ok("GET", f"/rooms/{room}/state")
    return {(e["type"], e["state_key"]): e for e in events}


async def test_an_upgrade_moves_state_aliases_bans_and_members(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    old = await alice.create_room(
        preset="public_chat", name="Plans", topic="what next", room_alias_name="plans"
    )
    await alice.ok("PUT", f"/directory/list/room/{old}", json={"visibility": "public"})
    await bob.join(old)
    await carol.join(old)
    await alice.ok("POST", f"/rooms/{old}/ban", json={"user_id": carol.user_id})
    await alice.ok(
        "PUT", f"/rooms/{old}/state/m.room.encryption", json={"algorithm": "m.megolm.v1.aes-sha2"}
    )
    bob_since = (await bob.sync())["next_batch"]

    r = await alice.ok("POST", f"/rooms/{old}/upgrade", json={"new_version": "10"})
    new = r["replacement_room"]
    assert new != old

    state = await _state(alice, new)
    create = state[("m.room.create", "")]["content"]
    assert create["room_version"] == "10"
    assert create["predecessor"]["room_id"] == old
    assert state[("m.room.name", "")]["content"] == {"name": "Plans"}
    assert state[("m.room.topic", "")]["content"] == {"topic": "what next"}
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert state[("m.room.encryption", "")]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state[("m.room.canonical_alias", "")]["content"]["alias"] == "#plans:test.local"
    old_pl = (await _state(alice, old))[("m.room.power_levels", "")]["content"]
    assert state[("m.room.power_levels", "")]["content"]["users"] == old_pl["users"]
    members = {k: e["content"]["membership"] for (t, k), e in state.items() if t == "m.room.member"}
    assert members == {alice.user_id: "join", bob.user_id: "invite", carol.user_id: "ban"}

    # The alias and the directory listing lead to the new room.
    resolved = await alice.ok("GET", "/directory/room/%23plans:test.local")
    assert resolved["room_id"] == new
    listed = {c["room_id"] for c in (await alice.ok("GET", "/publicRooms"))["chunk"]}
    assert new in listed
    assert old not in listed

    # The old room: a tombstone its members see, no canonical alias, locked power levels.
    old_state = await _state(alice, old)
    tombstone = old_state[("m.room.tombstone", "")]
    assert tombstone["content"]["replacement_room"] == new
    assert tombstone["content"]["body"]
    assert create["predecessor"]["event_id"] == tombstone["event_id"]
    assert old_state[("m.room.canonical_alias", "")]["content"] == {}
    assert old_pl["events_default"] == 50
    assert old_pl["invite"] == 50
    bob_sync = await bob.sync(bob_since)
    timeline = bob_sync["rooms"]["join"][old]["timeline"]["events"]
    assert any(e["type"] == "m.room.tombstone" for e in timeline)
    assert new in bob_sync["rooms"]["invite"]
    silenced = await bob.request(
        "PUT", f"/rooms/{old}/send/m.room.message/t1", json={"msgtype": "m.text", "body": "hi"}
    )
    assert silenced.status_code == 403
    await bob.join(new)


async def test_an_upgrade_needs_the_power_to_send_a_tombstone(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    r = await bob.request("POST", f"/rooms/{room}/upgrade", json={"new_version": "10"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    outsider = await bob.request(
        "POST", "/rooms/!unknown:test.local/upgrade", json={"new_version": "10"}
    )
    assert (outsider.status_code, outsider.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert ("m.room.tombstone", "") not in await _state(alice, room)


async def test_an_upgrade_refuses_unsupported_versions_and_bad_bodies(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room()
    r = await alice.request("POST", f"/rooms/{room}/upgrade", json={"new_version": "9001"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    for body in ({}, {"new_version": 10}, {"new_version": None}):
        bad = await alice.request("POST", f"/rooms/{room}/upgrade", json=body)
        assert bad.status_code == 400, body
        assert bad.json()["errcode"] in ("M_BAD_JSON", "M_MISSING_PARAM"), body
    assert ("m.room.tombstone", "") not in await _state(alice, room)
    assert await alice.ok("GET", "/joined_rooms") == {"joined_rooms": [room]}
