"""Restricted rooms ("visible to space members" in Element): a member of a room the join
rule's `allow` names may join without an invite; the join event names who vouched for it;
nobody else gets in; the space hierarchy and the room summary show such a room to those
who may join it. Both engines."""

from typing import Any

from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1"


async def _restricted_room(owner: MatrixTestClient, space: str, rule: str = "restricted") -> str:
    room = await owner.create_room(
        name="space members only",
        preset="private_chat",
        initial_state=[
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": {
                    "join_rule": rule,
                    "allow": [{"type": "m.room_membership", "room_id": space}],
                },
            }
        ],
    )
    await owner.ok(
        "PUT", f"/rooms/{space}/state/m.space.child/{room}", json={"via": ["test.local"]}
    )
    return room


async def _space(owner: MatrixTestClient) -> str:
    return await owner.create_room(
        name="the space", creation_content={"type": "m.space"}, preset="public_chat"
    )


async def _member_event(client: MatrixTestClient, room: str, user: str) -> Any:
    return await client.ok("GET", f"/rooms/{room}/state/m.room.member/{user}")


async def test_a_member_of_the_space_joins_and_the_join_names_its_voucher(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    space = await _space(alice)
    room = await _restricted_room(alice, space)
    await bob.join(space)
    await bob.join(room)
    content = await _member_event(alice, room, bob.user_id)
    assert content["membership"] == "join"
    assert content["join_authorised_via_users_server"] == alice.user_id
    # And he is in: he can talk there.
    await bob.send(room, "hello from the space")


async def test_someone_outside_the_space_is_refused_and_nothing_changes(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    space = await _space(alice)
    room = await _restricted_room(alice, space)
    await bob.join(space)
    await bob.ok("POST", f"/rooms/{space}/leave", json={})  # was a member; is not now
    for client in (bob, carol):
        r = await client.request("POST", f"/join/{room}", json={})
        assert r.status_code == 403, r.text
        assert r.json()["errcode"] == "M_FORBIDDEN"
    members = await alice.ok("GET", f"/rooms/{room}/joined_members")
    assert set(members["joined"]) == {alice.user_id}


async def test_a_voucher_written_by_the_client_is_not_taken(
    alice: MatrixTestClient, carol: MatrixTestClient
) -> None:
    """Only the server vouches, after checking `allow`: a member event carrying its own
    `join_authorised_via_users_server` does not get an outsider in."""
    space = await _space(alice)
    room = await _restricted_room(alice, space)
    r = await carol.request(
        "PUT",
        f"/rooms/{room}/state/m.room.member/{carol.user_id}",
        json={"membership": "join", "join_authorised_via_users_server": alice.user_id},
    )
    assert r.status_code == 403, r.text


async def test_knock_restricted_takes_a_space_member_in_and_a_knock_from_others(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    space = await _space(alice)
    room = await _restricted_room(alice, space, "knock_restricted")
    await bob.join(space)
    await bob.join(room)
    assert (await _member_event(alice, room, bob.user_id))["membership"] == "join"
    r = await carol.request("POST", f"/join/{room}", json={})
    assert r.status_code == 403, r.text
    await carol.ok("POST", f"/knock/{room}", json={})
    assert (await _member_event(alice, room, carol.user_id))["membership"] == "knock"


async def test_the_hierarchy_and_the_summary_show_it_to_those_who_may_join(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    space = await _space(alice)
    room = await _restricted_room(alice, space)
    await bob.join(space)
    await carol.join(space)
    await carol.ok("POST", f"/rooms/{space}/leave", json={})

    seen = (await bob.http.get(f"{V1}/rooms/{space}/hierarchy", headers=bob.headers)).json()
    by_id = {r["room_id"]: r for r in seen["rooms"]}
    assert room in by_id
    assert by_id[room]["join_rule"] == "restricted"
    assert by_id[room]["allowed_room_ids"] == [space]
    summary = await bob.http.get(f"{V1}/room_summary/{room}", headers=bob.headers)
    assert summary.status_code == 200, summary.text
    assert summary.json()["allowed_room_ids"] == [space]
    assert summary.json()["membership"] == "leave"

    # Carol left the space: the room is hidden from her again.
    hidden = await carol.http.get(f"{V1}/room_summary/{room}", headers=carol.headers)
    assert hidden.status_code == 404, hidden.text
    outside = await carol.http.get(f"{V1}/rooms/{space}/hierarchy", headers=carol.headers)
    assert outside.status_code == 200, outside.text
    assert room not in {r["room_id"] for r in outside.json()["rooms"]}
    assert space in {r["room_id"] for r in outside.json()["rooms"]}  # a public space
