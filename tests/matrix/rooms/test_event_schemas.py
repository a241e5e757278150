"""The room events Candor builds itself are what the spec's event schemas describe.

Responses are validated against their operations' schemas on every API call
(`tests/helpers/spec.py`), but those schemas say only "an object" for an event's content.
The state `createRoom` writes for each preset and the membership events of joins, invites,
profile changes, kicks and bans are Candor's own, so they are checked here against
`event-schemas/schema/<type>.yaml` as `/state` and `/messages` give them.
"""

from typing import Any

import pytest

from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import event_schema, validate_event

pytestmark = pytest.mark.engines("sqlite")

SERVER_BUILT_STATE = {
    "m.room.create",
    "m.room.member",
    "m.room.power_levels",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.name",
    "m.room.topic",
}


async def _room_events(user: MatrixTestClient, room: str) -> list[dict[str, Any]]:
    state: list[dict[str, Any]] = await user.ok("GET", f"/rooms/{room}/state")
    timeline: list[dict[str, Any]] = (await user.messages(room, dir="b", limit=100))["chunk"]
    return state + timeline


@pytest.mark.parametrize("preset", ["private_chat", "trusted_private_chat", "public_chat"])
async def test_the_state_and_memberships_candor_builds_match_the_event_schemas(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient, preset: str
) -> None:
    await alice.ok("PUT", f"/profile/{alice.user_id}/displayname", json={"displayname": "Al"})
    avatar = {"avatar_url": "mxc://test.local/avatar"}
    await alice.ok("PUT", f"/profile/{alice.user_id}/avatar_url", json=avatar)
    room = await alice.create_room(
        preset=preset,
        name="Plans",
        topic="Where we meet",
        room_alias_name=f"plans-{preset}",
        invite=[bob.user_id],
    )
    await alice.invite(room, carol.user_id)  # not an initial invitee: no trusted power level
    await bob.join(room)
    await carol.join(room)
    await alice.send(room, "hello")
    await bob.ok("PUT", f"/profile/{bob.user_id}/displayname", json={"displayname": "Bobby"})
    await alice.ok("POST", f"/rooms/{room}/kick", json={"user_id": carol.user_id, "reason": "r"})
    await alice.ok("POST", f"/rooms/{room}/ban", json={"user_id": carol.user_id})
    await bob.ok("POST", f"/rooms/{room}/leave", json={})

    events = await _room_events(alice, room)
    for event in events:
        validate_event(event)
    assert {e["type"] for e in events} >= SERVER_BUILT_STATE
    memberships = {e["content"]["membership"] for e in events if e["type"] == "m.room.member"}
    assert memberships == {"join", "invite", "leave", "ban"}
    # Each was judged by its own schema, not only by the generic event one.
    assert all("core-event-schema" not in event_schema(e) for e in events)


def test_an_event_that_breaks_its_schema_is_named_with_the_path() -> None:
    member = {
        "type": "m.room.member",
        "state_key": "@bob:test.local",
        "content": {"membership": "joined"},
        "event_id": "$e",
        "room_id": "!r:test.local",
        "sender": "@bob:test.local",
        "origin_server_ts": 1,
    }
    with pytest.raises(AssertionError, match=r"m.room.member.yaml:\n  at \$.content.membership"):
        validate_event(member)
