"""Knocking (`POST /knock/{roomIdOrAlias}`): allowed only by a knock join rule, answered
by an invite (accept) or a kick (deny), and shown in /sync's `rooms.knock`."""

from typing import Any

import pytest

from candor.matrix.errors import Forbidden
from candor.matrix.rooms.rules import AuthState, check_membership_change
from tests.helpers.matrix import MatrixTestClient


async def _knock_room(alice: MatrixTestClient, join_rule: str = "knock") -> str:
    room = await alice.create_room(name="Knockers", preset="private_chat")
    await alice.ok("PUT", f"/rooms/{room}/state/m.room.join_rules", json={"join_rule": join_rule})
    return room


def _timeline_members(sync: Any, room: str) -> list[tuple[str, str]]:
    events = sync["rooms"]["join"][room]["timeline"]["events"]
    return [
        (e["state_key"], e["content"]["membership"]) for e in events if e["type"] == "m.room.member"
    ]


async def test_a_knock_shows_to_the_knocker_and_the_room(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _knock_room(alice)
    since = (await alice.sync())["next_batch"]
    bob_since = (await bob.sync())["next_batch"]
    r = await bob.ok("POST", f"/knock/{room}", json={"reason": "let me in"})
    assert r == {"room_id": room}
    bob_sync = await bob.sync(bob_since)
    knock_state = bob_sync["rooms"]["knock"][room]["knock_state"]["events"]
    types = {(e["type"], e.get("state_key")) for e in knock_state}
    assert ("m.room.name", "") in types
    own = [e for e in knock_state if e["type"] == "m.room.member"]
    assert own[0]["content"]["membership"] == "knock"
    assert room not in bob_sync["rooms"]["join"]
    alice_sync = await alice.sync(since)
    assert (bob.user_id, "knock") in _timeline_members(alice_sync, room)
    knock_ev = alice_sync["rooms"]["join"][room]["timeline"]["events"][-1]
    assert knock_ev["content"]["reason"] == "let me in"


async def test_an_accepted_knock_becomes_an_invite_and_a_join(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _knock_room(alice, "knock_restricted")
    await bob.ok("POST", f"/knock/{room}", json={})
    # A knock alone does not let one in.
    early = await bob.request("POST", f"/join/{room}", json={})
    assert (early.status_code, early.json()["errcode"]) == (403, "M_FORBIDDEN")
    since = (await bob.sync())["next_batch"]
    await alice.invite(room, bob.user_id)
    assert room in (await bob.sync(since))["rooms"]["invite"]
    await bob.join(room)
    assert room in (await bob.ok("GET", "/joined_rooms"))["joined_rooms"]


async def test_a_denied_knock_is_a_kick_and_a_retracted_one_a_leave(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await _knock_room(alice)
    await bob.ok("POST", f"/knock/{room}", json={})
    since = (await bob.sync())["next_batch"]
    await alice.ok("POST", f"/rooms/{room}/kick", json={"user_id": bob.user_id})
    assert room in (await bob.sync(since))["rooms"]["leave"]
    # Knocking again after a denial is allowed; retracting it is the knocker's leave.
    await bob.ok("POST", f"/knock/{room}", json={})
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    members = await alice.ok("GET", f"/rooms/{room}/members")
    assert {e["state_key"]: e["content"]["membership"] for e in members["chunk"]}[
        bob.user_id
    ] == "leave"
    # A member without kick power cannot deny one.
    await carol.ok("POST", f"/knock/{room}", json={})
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    denied = await bob.request("POST", f"/rooms/{room}/kick", json={"user_id": carol.user_id})
    assert (denied.status_code, denied.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_knocking_is_refused_where_the_join_rule_does_not_allow_it(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    for join_rule in ("invite", "public"):
        room = await _knock_room(alice, join_rule)
        r = await bob.request("POST", f"/knock/{room}", json={})
        assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN"), join_rule
    room = await _knock_room(alice)
    # Members, invitees and banned users may not knock.
    invited = await alice.create_room(preset="private_chat")
    await alice.ok("PUT", f"/rooms/{invited}/state/m.room.join_rules", json={"join_rule": "knock"})
    await alice.invite(invited, bob.user_id)
    r = await bob.request("POST", f"/knock/{invited}", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    await alice.ok("POST", f"/rooms/{room}/ban", json={"user_id": bob.user_id})
    r = await bob.request("POST", f"/knock/{room}", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await alice.request("POST", f"/knock/{room}", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_knock_errors(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    room = await _knock_room(alice)
    unknown = await bob.request("POST", "/knock/!nothere:test.local", json={})
    assert (unknown.status_code, unknown.json()["errcode"]) == (404, "M_NOT_FOUND")
    no_alias = await bob.request("POST", "/knock/%23nothere:test.local", json={})
    assert (no_alias.status_code, no_alias.json()["errcode"]) == (404, "M_NOT_FOUND")
    bad = await bob.request("POST", f"/knock/{room}", json={"reason": 5})
    assert (bad.status_code, bad.json()["errcode"]) == (400, "M_BAD_JSON")
    bad_id = await bob.request("POST", "/knock/nonsense", json={})
    assert bad_id.status_code == 400
    # Nothing changed: bob can still knock.
    await bob.ok("POST", f"/knock/{room}", json={})


def test_the_knock_rules_of_room_version_10() -> None:
    """`rules.py` alone: who may knock, and how a knock is answered."""
    admin, user = "@admin:x", "@user:x"
    pl: dict[str, object] = {"users": {admin: 100}, "kick": 50, "ban": 50, "invite": 0}

    def state(join_rule: str, user_membership: str | None) -> AuthState:
        memberships = {admin: "join"}
        if user_membership is not None:
            memberships[user] = user_membership
        return AuthState(admin, pl, join_rule, memberships)

    for rule in ("knock", "knock_restricted"):
        check_membership_change(state(rule, None), user, user, "knock")
        check_membership_change(state(rule, "leave"), user, user, "knock")
        check_membership_change(state(rule, "knock"), user, user, "knock")
    for rule in ("public", "invite", "private", "restricted"):
        with pytest.raises(Forbidden):
            check_membership_change(state(rule, None), user, user, "knock")
    for current in ("join", "invite", "ban"):
        with pytest.raises(Forbidden):
            check_membership_change(state("knock", current), user, user, "knock")
    with pytest.raises(Forbidden):
        check_membership_change(state("knock", None), admin, user, "knock")
    knocked = state("knock", "knock")
    check_membership_change(knocked, admin, user, "invite")  # accept
    check_membership_change(knocked, admin, user, "leave")  # deny
    check_membership_change(knocked, user, user, "leave")  # retract
    check_membership_change(knocked, admin, user, "ban")
    with pytest.raises(Forbidden):
        check_membership_change(knocked, user, user, "join")
