"""Room grants over the API on both engines: all-party consent from asking to ending.

Scenarios with three people in a room and an approved app that asked for `inbox.read`;
time is a FakeClock. Every refusal is checked for its errcode and for leaving no trace.
"""

import asyncio
from typing import Any

import pytest

from candor.partners.consent.rules import DAY_MS
from tests.helpers.matrix import MatrixTestClient
from tests.partners.consent.conftest import API, Env

Three = tuple[MatrixTestClient, MatrixTestClient, MatrixTestClient]


@pytest.fixture
async def three(alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient) -> Three:
    return alice, bob, carol


async def _pending(env: Env, three: Three, client_id: str, **body: Any) -> tuple[str, str]:
    alice, bob, carol = three
    room = await env.room(alice, bob, carol)
    r = await env.ask(alice, room, client_id, **body)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    return room, r.json()["grant_id"]


async def _live(env: Env, three: Three, client_id: str) -> tuple[str, str]:
    room, grant_id = await _pending(env, three, client_id)
    for who in three[1:]:
        assert (await env.act(who, grant_id, "accept")).status_code == 200
    return room, grant_id


async def test_grant_is_pending_until_every_member_accepts(
    env: Env, three: Three, flix: str
) -> None:
    alice, bob, carol = three
    room, grant_id = await _pending(env, three, flix, days=7)
    g = await env.grant(bob, grant_id)
    assert g["status"] == "pending"
    assert g["app_name"] == "Flix"
    assert g["room_id"] == room
    assert g["room_name"] == "Film club"
    assert g["days"] == 7
    assert g["my_decision"] == "pending"
    assert g["waiting_for"] == sorted([bob.user_id, carol.user_id])
    assert (await env.grant(alice, grant_id))["my_decision"] == "accepted"
    assert await env.consent.live_grants(flix, alice.user_id) == []

    r = await env.act(bob, grant_id, "accept")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert r.json()["waiting_for"] == [carol.user_id]
    assert await env.consent.live_grant(flix, room, bob.user_id) is None

    r = await env.act(carol, grant_id, "accept")
    assert r.json()["status"] == "live"
    assert r.json()["live_ts"] == env.clock.now_ms()
    assert r.json()["expires_ts"] == env.clock.now_ms() + 7 * DAY_MS
    for who in three:
        live = await env.consent.live_grant(flix, room, who.user_id)
        assert live is not None
        assert live.grant_id == grant_id
        assert live.client_id == flix
        assert live.members == tuple(sorted(u.user_id for u in three))
        assert live.window_from > 0  # history not included
        assert live.expires_ts == env.clock.now_ms() + 7 * DAY_MS
    assert [g.room_id for g in await env.consent.live_grants(flix, bob.user_id)] == [room]
    # Other apps see nothing.
    other = await env.app(name="Other")
    assert await env.consent.live_grants(other, bob.user_id) == []


async def test_window_starts_after_going_live(env: Env, three: Three, flix: str) -> None:
    alice, _, _ = three
    room, grant_id = await _pending(env, three, flix)
    await alice.send(room, "before")
    for who in three[1:]:
        await env.act(who, grant_id, "accept")
    live = await env.consent.live_grant(flix, room, alice.user_id)
    assert live is not None
    after = await alice.send(room, "after")
    events = (await alice.messages(room, dir="b", limit=50))["chunk"]
    by_id = {e["event_id"]: e for e in events}
    assert after in by_id
    # /messages does not expose stream positions: compare with the sync token instead.
    sync = await alice.sync()
    assert live.window_from <= int(sync["next_batch"].lstrip("s").split("_")[0])


async def test_history_is_included_only_if_every_member_ticks_it(
    env: Env, three: Three, flix: str
) -> None:
    alice, bob, carol = three
    room, grant_id = await _pending(env, three, flix, include_history=True)
    await env.act(bob, grant_id, "accept", json={"include_history": True})
    await env.act(carol, grant_id, "accept", json={"include_history": False})
    live = await env.consent.live_grant(flix, room, alice.user_id)
    assert live is not None
    assert live.window_from > 0

    room2, grant2 = await _pending(env, three, flix, include_history=True)
    await env.act(bob, grant2, "accept", json={"include_history": True})
    r = await env.act(carol, grant2, "accept", json={"include_history": True})
    assert all(m["include_history"] for m in r.json()["members"])
    live2 = await env.consent.live_grant(flix, room2, alice.user_id)
    assert live2 is not None
    assert live2.window_from == 0


async def test_accept_without_a_body_keeps_the_earlier_choice(
    env: Env, three: Three, flix: str
) -> None:
    alice, bob, carol = three
    room, grant_id = await _pending(env, three, flix, include_history=True)
    await env.act(bob, grant_id, "accept", json={"include_history": True})
    await env.act(bob, grant_id, "accept")  # again, no body: still ticked
    await env.act(carol, grant_id, "accept", json={"include_history": True})
    live = await env.consent.live_grant(flix, room, alice.user_id)
    assert live is not None
    assert live.window_from == 0


async def test_the_only_member_shares_at_once(env: Env, alice: MatrixTestClient, flix: str) -> None:
    room = await env.room(alice)
    r = await env.ask(alice, room, flix)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "live"
    live = await env.consent.live_grant(flix, room, alice.user_id)
    assert live is not None
    assert live.members == (alice.user_id,)
    assert live.expires_ts == env.clock.now_ms() + 30 * DAY_MS


async def test_one_decline_ends_it_for_everyone(env: Env, three: Three, flix: str) -> None:
    alice, bob, carol = three
    room, grant_id = await _pending(env, three, flix)
    r = await env.act(bob, grant_id, "decline")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined"
    assert r.json()["ended_reason"] == f"declined by {bob.user_id}"
    r = await env.act(carol, grant_id, "accept")
    assert r.status_code == 409
    assert r.json()["errcode"] == "CANDOR_GRANT_NOT_PENDING"
    assert await env.consent.live_grant(flix, room, alice.user_id) is None
    r = await env.act(carol, grant_id, "decline")
    assert r.json()["errcode"] == "CANDOR_GRANT_NOT_PENDING"
    r = await env.act(carol, grant_id, "revoke")
    assert r.status_code == 409
    assert r.json()["errcode"] == "CANDOR_GRANT_ENDED"


@pytest.mark.parametrize("revoker", [0, 1, 2])
async def test_any_member_can_revoke_a_live_grant(
    env: Env, three: Three, flix: str, revoker: int
) -> None:
    room, grant_id = await _live(env, three, flix)
    who = three[revoker]
    r = await env.act(who, grant_id, "revoke")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked"
    assert r.json()["ended_reason"] == f"revoked by {who.user_id}"
    for member in three:
        assert await env.consent.live_grant(flix, room, member.user_id) is None
    # Once revoked, the room may be asked about again.
    assert (await env.ask(three[0], room, flix)).status_code == 200


async def test_a_pending_grant_can_be_withdrawn(env: Env, three: Three, flix: str) -> None:
    _, grant_id = await _pending(env, three, flix)
    r = await env.act(three[0], grant_id, "revoke")
    assert r.json()["status"] == "revoked"


async def test_accepting_a_live_grant_is_refused(env: Env, three: Three, flix: str) -> None:
    _, grant_id = await _live(env, three, flix)
    r = await env.act(three[1], grant_id, "accept")
    assert r.status_code == 409
    assert r.json()["errcode"] == "CANDOR_GRANT_NOT_PENDING"
    assert "revoke" in r.json()["error"]


async def _change(env: Env, three: Three, room: str, change: str) -> None:
    alice, _, carol = three
    if change == "join":
        dave = await env.user("dave")
        await dave.join(room)
    elif change == "leave":
        await carol.ok("POST", f"/rooms/{room}/leave", json={})
    elif change == "kick":
        await alice.ok("POST", f"/rooms/{room}/kick", json={"user_id": carol.user_id})
    elif change == "ban":
        await alice.ok("POST", f"/rooms/{room}/ban", json={"user_id": carol.user_id})
    elif change == "rejoin":
        await carol.ok("POST", f"/rooms/{room}/leave", json={})
        await carol.join(room)
    else:  # invite
        dave = await env.user("dave")
        await alice.invite(room, dave.user_id)


CHANGES = ["join", "leave", "kick", "ban", "rejoin", "invite"]


@pytest.mark.parametrize("change", CHANGES)
async def test_a_membership_change_voids_a_live_grant(
    env: Env, three: Three, flix: str, change: str
) -> None:
    room, grant_id = await _live(env, three, flix)
    await _change(env, three, room, change)
    # Read time: the Inbox API's checks see it at once, before anyone wrote to the grant.
    for member in three:
        assert await env.consent.live_grant(flix, room, member.user_id) is None
        assert await env.consent.live_grants(flix, member.user_id) == []
    g = await env.grant(three[0], grant_id)
    assert g["status"] == "voided"
    assert g["ended_reason"] == "the room's membership changed"


@pytest.mark.parametrize("change", ["join", "leave"])
async def test_a_membership_change_voids_a_pending_grant(
    env: Env, three: Three, flix: str, change: str
) -> None:
    room, grant_id = await _pending(env, three, flix)
    await _change(env, three, room, change)
    r = await env.act(three[1], grant_id, "accept")
    assert r.status_code == 409
    assert "voided" in r.json()["error"]
    assert (await env.grant(three[0], grant_id))["status"] == "voided"
    # A voided grant does not block a new request.
    assert (await env.ask(three[0], room, flix)).status_code == 200


async def test_a_profile_update_is_not_a_membership_change(
    env: Env, three: Three, flix: str
) -> None:
    alice, _, _ = three
    room, _ = await _live(env, three, flix)
    await alice.ok("PUT", f"/profile/{alice.user_id}/displayname", json={"displayname": "Alice A."})
    assert await env.consent.live_grant(flix, room, alice.user_id) is not None


async def test_a_grant_expires_on_time(env: Env, three: Three, flix: str) -> None:
    room, grant_id = await _pending(env, three, flix, days=2)
    env.clock.advance(3 * 86_400)  # a pending grant does not expire while waiting
    for who in three[1:]:
        await env.act(who, grant_id, "accept")
    env.clock.advance(2 * 86_400 - 1)
    assert await env.consent.live_grant(flix, room, three[0].user_id) is not None
    env.clock.advance(1)
    assert await env.consent.live_grant(flix, room, three[0].user_id) is None
    g = await env.grant(three[0], grant_id)
    assert g["status"] == "expired"
    r = await env.act(three[1], grant_id, "revoke")
    assert r.json()["errcode"] == "CANDOR_GRANT_ENDED"


async def test_an_encrypted_room_cannot_be_shared(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id])
    await bob.join(room)
    r = await env.ask(alice, room, flix)
    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_ROOM_ENCRYPTED"
    assert "ciphertext" in r.json()["error"]
    assert await env.counts() == (0, 0)


async def test_non_members_get_the_same_404_as_a_missing_room(
    env: Env, three: Three, flix: str
) -> None:
    alice, bob, carol = three
    room = await env.room(alice, bob)
    missing = await env.ask(carol, "!nothere:test.local", flix)
    outsider = await env.ask(carol, room, flix)
    assert missing.status_code == outsider.status_code == 404
    assert missing.json() == outsider.json()
    assert outsider.json()["errcode"] == "CANDOR_NOT_FOUND"
    # An encrypted room does not say so to an outsider either.
    secret = await alice.create_room(preset="private_chat")
    assert (await env.ask(carol, secret, flix)).json() == missing.json()
    assert await env.counts() == (0, 0)

    r = await env.ask(alice, room, flix)
    grant_id = r.json()["grant_id"]
    for action in ("accept", "decline", "revoke"):
        not_member = await env.act(carol, grant_id, action)
        no_grant = await env.act(carol, "grant_nothere", action)
        assert not_member.status_code == no_grant.status_code == 404
        assert not_member.json() == no_grant.json()
    assert (await env.act(carol, "g" * 200, "accept")).status_code == 404
    assert await env.grants(carol) == []


async def test_a_second_open_grant_for_the_same_app_and_room_is_refused(
    env: Env, three: Three, flix: str
) -> None:
    room, grant_id = await _pending(env, three, flix)
    r = await env.ask(three[1], room, flix)
    assert r.status_code == 409
    assert r.json() == {
        "errcode": "CANDOR_GRANT_EXISTS",
        "error": r.json()["error"],
        "grant_id": grant_id,
    }
    assert await env.counts() == (1, 3)
    other = await env.app(name="Other")
    assert (await env.ask(three[1], room, other)).status_code == 200


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({"days": 0}, "CANDOR_INVALID_PARAM"),
        ({"days": 91}, "CANDOR_INVALID_PARAM"),
        ({"days": "30"}, "CANDOR_BAD_JSON"),
        ({"days": 1.5}, "CANDOR_BAD_JSON"),
        ({"include_history": "yes"}, "CANDOR_BAD_JSON"),
        ({"surprise": 1}, "CANDOR_BAD_JSON"),
        ({"client_id": ""}, "CANDOR_INVALID_PARAM"),
        ({"client_id": "x" * 65}, "CANDOR_INVALID_PARAM"),
        ({"client_id": 7}, "CANDOR_BAD_JSON"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    env: Env,
    alice: MatrixTestClient,
    bob: MatrixTestClient,
    flix: str,
    body: dict[str, Any],
    errcode: str,
) -> None:
    room = await env.room(alice, bob)
    r = await env.api.post(
        f"{API}/rooms/{room}/grants", json={"client_id": flix, **body}, headers=alice.headers
    )
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == errcode
    assert await env.counts() == (0, 0)


async def test_bad_room_id_and_missing_body_are_400(
    env: Env, alice: MatrixTestClient, flix: str
) -> None:
    r = await env.ask(alice, "not-a-room", flix)
    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_INVALID_PARAM"
    r = await env.api.post(f"{API}/rooms/!a:test.local/grants", headers=alice.headers)
    assert r.status_code == 400
    r = await env.api.post(f"{API}/rooms/!a:test.local/grants", content=b"{", headers=alice.headers)
    assert r.status_code == 400
    room = await env.room(alice)
    _, grant_id = (await env.ask(alice, room, flix)).json().values()
    r = await env.act(alice, grant_id, "accept", json={"include_history": "no"})
    assert r.json()["errcode"] == "CANDOR_BAD_JSON"


async def test_every_route_needs_a_token(env: Env) -> None:
    for method, path in [
        ("POST", f"{API}/rooms/!a:test.local/grants"),
        ("GET", f"{API}/grants"),
        ("POST", f"{API}/grants/g/accept"),
        ("POST", f"{API}/grants/g/decline"),
        ("POST", f"{API}/grants/g/revoke"),
    ]:
        r = await env.api.request(method, path, json={"client_id": "x"})
        assert r.status_code == 401
        r = await env.api.request(
            method, path, json={"client_id": "x"}, headers={"Authorization": "Bearer nope"}
        )
        assert r.status_code == 401


@pytest.mark.parametrize(
    ("kind", "status", "errcode"),
    [
        ("pending", 403, "CANDOR_FORBIDDEN"),
        ("suspended", 403, "CANDOR_FORBIDDEN"),
        ("no_inbox", 403, "CANDOR_FORBIDDEN"),
        ("unknown", 404, "CANDOR_NOT_FOUND"),
    ],
)
async def test_only_an_approved_app_that_asked_for_inbox_read_can_be_asked_for(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, kind: str, status: int, errcode: str
) -> None:
    if kind == "pending":
        client_id = await env.app(approve=False)
    elif kind == "suspended":
        client_id = await env.app()
        from_service = env.consent
        await from_service._apps.suspend(client_id)
    elif kind == "no_inbox":
        client_id = await env.app(scopes="profile share")
    else:
        client_id = "app_nothere"
    room = await env.room(alice, bob)
    r = await env.ask(alice, room, client_id)
    assert r.status_code == status, r.text
    assert r.json()["errcode"] == errcode
    assert await env.counts() == (0, 0)


async def test_a_suspended_app_loses_its_live_grants(env: Env, three: Three, flix: str) -> None:
    room, _ = await _live(env, three, flix)
    await env.consent._apps.suspend(flix)
    assert await env.consent.live_grant(flix, room, three[0].user_id) is None
    assert await env.consent.live_grants("app_nothere", three[0].user_id) == []


async def test_the_room_is_told_with_a_notice(env: Env, three: Three, flix: str) -> None:
    alice, bob, _ = three
    room, grant_id = await _pending(env, three, flix, days=14)
    chunk = (await bob.messages(room, dir="b", limit=10))["chunk"]
    notices = [e for e in chunk if e["type"] == "m.room.message"]
    assert len(notices) == 1
    ev = notices[0]
    assert ev["sender"] == alice.user_id
    content = ev["content"]
    assert content["msgtype"] == "m.notice"
    assert "“Flix”" in content["body"]
    assert "14 days" in content["body"]
    assert "messages" in content["body"]
    assert "http://test.local/privacy/grants" in content["body"]
    assert content["org.candor.grant"]["grant_id"] == grant_id


async def test_the_only_member_gets_a_notice_saying_it_is_live(
    env: Env, alice: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice)
    await env.ask(alice, room, flix, include_history=True)
    chunk = (await alice.messages(room, dir="b", limit=10))["chunk"]
    body = next(e for e in chunk if e["type"] == "m.room.message")["content"]["body"]
    assert "shared this room" in body
    assert "earlier history included" in body
    live = await env.consent.live_grant(flix, room, alice.user_id)
    assert live is not None
    assert live.window_from == 0


async def test_design_invariant_1_all_party_consent(env: Env, three: Three, flix: str) -> None:
    """DESIGN invariant 1: an app reads a room only while a live grant exists that every
    currently joined member accepted; a revocation, a membership change or the expiry
    ends it at once."""
    alice, bob, carol = three
    room, grant_id = await _pending(env, three, flix, days=1)

    async def readable() -> bool:
        return all([await env.consent.live_grant(flix, room, u.user_id) is not None for u in three])

    assert not await readable()  # only the asker agreed
    await env.act(bob, grant_id, "accept")
    assert not await readable()  # carol has not agreed
    await env.act(carol, grant_id, "accept")
    assert await readable()  # everyone agreed
    env.clock.advance(86_400)
    assert not await readable()  # expired

    async def everyone_accepts() -> str:
        r = await env.ask(alice, room, flix)
        assert r.status_code == 200, r.text
        for who in (bob, carol):
            assert not await readable()
            await env.act(who, r.json()["grant_id"], "accept")
        grant_id: str = r.json()["grant_id"]
        return grant_id

    grant_id = await everyone_accepts()
    assert await readable()
    await env.act(carol, grant_id, "revoke")
    assert not await readable()  # one member revoked

    await everyone_accepts()
    assert await readable()
    await carol.ok("POST", f"/rooms/{room}/leave", json={})
    assert not await readable()  # a member left


async def test_the_last_two_acceptances_at_once_make_it_live(
    env: Env, three: Three, flix: str
) -> None:
    room, grant_id = await _pending(env, three, flix)
    got = await asyncio.gather(*(env.act(who, grant_id, "accept") for who in three[1:]))
    assert [r.status_code for r in got] == [200, 200]
    assert (await env.grant(three[0], grant_id))["status"] == "live"
    assert await env.consent.live_grant(flix, room, three[0].user_id) is not None


@pytest.mark.parametrize("ending", ["leave", "expiry"])
async def test_asking_again_right_after_a_grant_ended_works(
    env: Env, three: Three, flix: str, ending: str
) -> None:
    alice, bob, _ = three
    room, old = await _live(env, three, flix)
    if ending == "leave":
        await _change(env, three, room, "leave")
    else:
        env.clock.advance(31 * 86_400)
    r = await env.ask(alice, room, flix)  # nothing read the old grant in between
    assert r.status_code == 200, r.text
    grants = {g["grant_id"]: g for g in await env.grants(bob)}
    assert grants[old]["status"] == ("voided" if ending == "leave" else "expired")
    assert grants[r.json()["grant_id"]]["status"] == "pending"


async def test_turning_on_encryption_ends_a_live_grant(env: Env, three: Three, flix: str) -> None:
    alice = three[0]
    room, grant_id = await _live(env, three, flix)
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.encryption/",
        json={"algorithm": "m.megolm.v1.aes-sha2"},
    )
    assert await env.consent.live_grant(flix, room, alice.user_id) is None
    g = await env.grant(alice, grant_id)
    assert g["status"] == "voided"
    assert g["ended_reason"] == "the room is now end-to-end encrypted"


# --- issue 13 item 7: the notice is a message in the asker's name ---------------------------


async def test_only_someone_who_may_send_messages_may_ask(
    env: Env, three: Three, flix: str
) -> None:
    """The room's power levels apply to the notice as to any message: a member who may not
    send messages is refused (403, nothing written, no notice); one who may, asks."""
    alice, bob, carol = three
    room = await alice.create_room(
        preset="public_chat", power_level_content_override={"events_default": 50}
    )
    await bob.join(room)
    await carol.join(room)
    before = (await alice.messages(room, dir="b", limit=50))["chunk"]

    refused = await env.ask(bob, room, flix)

    assert refused.status_code == 403, refused.text
    assert refused.json()["errcode"] == "CANDOR_FORBIDDEN"
    assert "send messages" in refused.json()["error"]
    assert await env.counts() == (0, 0)
    assert (await alice.messages(room, dir="b", limit=50))["chunk"] == before
    # alice (the creator, power 100) may send messages, so she may ask.
    asked = await env.ask(alice, room, flix)
    assert asked.status_code == 200, asked.text
    assert await env.counts() == (1, 3)


# --- issue 13 item 3: a grant is consent to one agreement version of an approved app -------


async def test_a_new_agreement_version_voids_open_grants_and_members_are_asked_again(
    env: Env, three: Three, flix: str
) -> None:
    alice, bob, carol = three
    room, live_id = await _live(env, three, flix)
    assert (await env.grant(alice, live_id))["agreement_version"] == 1
    other = await env.room(alice, bob, carol)
    pending = await env.ask(alice, other, flix)
    apps = env.consent._apps
    app = await apps.get(flix)

    await apps.new_agreement(flix, app.agreement.revised("New purpose", "More data"))

    for grant_id in (live_id, pending.json()["grant_id"]):
        g = await env.grant(bob, grant_id)
        assert g["status"] == "voided"
        assert g["ended_reason"] == (
            "the app published a new agreement (version 2); the members must be asked again"
        )
    assert await env.consent.live_grant(flix, room, alice.user_id) is None
    again = await env.ask(alice, room, flix)
    assert again.status_code == 200, again.text
    assert (await env.grant(carol, again.json()["grant_id"]))["agreement_version"] == 2


async def test_suspension_voids_grants_for_good(env: Env, three: Three, flix: str) -> None:
    alice, _, _ = three
    room, grant_id = await _live(env, three, flix)
    apps = env.consent._apps

    await apps.suspend(flix)
    await apps.approve(flix)

    assert await env.consent.live_grant(flix, room, alice.user_id) is None
    g = await env.grant(alice, grant_id)
    assert (g["status"], g["ended_reason"]) == ("voided", "the app was suspended")
