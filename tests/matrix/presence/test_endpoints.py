"""GET and PUT /presence/{userId}/status: your own, a room-mate's, nobody else's."""

import pytest

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.presence.facts import forget_presence
from candor.store.db import Database
from tests.helpers.matrix import MatrixTestClient


def status_path(user_id: str) -> str:
    return f"/presence/{user_id}/status"


async def test_set_and_get_your_own_presence(alice: MatrixTestClient, clock: FakeClock) -> None:
    await alice.ok(
        "PUT", status_path(alice.user_id), json={"presence": "online", "status_msg": "hi"}
    )
    clock.advance(2)
    got = await alice.ok("GET", status_path(alice.user_id))
    assert got == {
        "presence": "online",
        "last_active_ago": 2000,
        "currently_active": True,
        "status_msg": "hi",
    }
    await alice.ok("PUT", status_path(alice.user_id), json={"presence": "unavailable"})
    got = await alice.ok("GET", status_path(alice.user_id))
    assert got["presence"] == "unavailable"
    assert "status_msg" not in got  # a PUT without status_msg clears it


async def test_never_set_reads_offline(alice: MatrixTestClient) -> None:
    assert await alice.ok("GET", status_path(alice.user_id)) == {"presence": "offline"}


async def test_presence_is_shared_only_with_room_mates(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await alice.ok("PUT", status_path(alice.user_id), json={"presence": "online"})
    room = await alice.create_room()
    await alice.invite(room, bob.user_id)
    # Invited is not joined: nothing shared yet.
    r = await bob.request("GET", status_path(alice.user_id))
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_FORBIDDEN"
    await bob.join(room)
    assert (await bob.ok("GET", status_path(alice.user_id)))["presence"] == "online"
    r = await carol.request("GET", status_path(alice.user_id))
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    # An unknown user is refused the same way (existence does not leak).
    r = await carol.request("GET", status_path("@nobody:test.local"))
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    r = await bob.request("GET", status_path(alice.user_id))
    assert r.status_code == 403


async def test_going_quiet_reads_idle_then_offline(
    alice: MatrixTestClient, bob: MatrixTestClient, clock: FakeClock
) -> None:
    room = await alice.create_room()
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    await alice.ok("PUT", status_path(alice.user_id), json={"presence": "online"})
    clock.advance(301)
    got = await bob.ok("GET", status_path(alice.user_id))
    assert got["presence"] == "unavailable"
    assert got["last_active_ago"] == 301_000
    assert got["currently_active"] is False
    clock.advance(600)
    assert (await bob.ok("GET", status_path(alice.user_id)))["presence"] == "offline"
    # A /sync (online by default) brings them back.
    await alice.sync()
    assert (await bob.ok("GET", status_path(alice.user_id)))["presence"] == "online"


async def test_setting_someone_elses_presence_is_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    r = await bob.request("PUT", status_path(alice.user_id), json={"presence": "offline"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert await alice.ok("GET", status_path(alice.user_id)) == {"presence": "offline"}


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        ({}, "M_MISSING_PARAM"),  # the app's code for a missing required field
        ({"presence": "busy"}, "M_BAD_JSON"),
        ({"presence": 1}, "M_BAD_JSON"),
        ({"presence": None}, "M_BAD_JSON"),
        ({"presence": "online", "status_msg": 5}, "M_BAD_JSON"),
        ({"presence": "online", "status_msg": "x" * 1025}, "M_BAD_JSON"),
        (["online"], "M_BAD_JSON"),
    ],
)
async def test_invalid_bodies_are_refused_and_change_nothing(
    alice: MatrixTestClient, body: object, errcode: str
) -> None:
    await alice.ok("PUT", status_path(alice.user_id), json={"presence": "unavailable"})
    r = await alice.request("PUT", status_path(alice.user_id), json=body)
    assert (r.status_code, r.json()["errcode"]) == (400, errcode)
    assert (await alice.ok("GET", status_path(alice.user_id)))["presence"] == "unavailable"


async def test_not_json_and_bad_user_ids_are_refused(alice: MatrixTestClient) -> None:
    r = await alice.request("PUT", status_path(alice.user_id), content=b"{nope")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_NOT_JSON")
    r = await alice.request("GET", status_path("not-a-user"))
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    r = await alice.request("PUT", status_path("not-a-user"), json={"presence": "online"})
    assert r.status_code == 400


async def test_a_token_is_required(alice: MatrixTestClient) -> None:
    r = await alice.http.get(f"/_matrix/client/v3/presence/{alice.user_id}/status")
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_forgetting_presence_leaves_nothing(
    alice: MatrixTestClient, settings: Settings
) -> None:
    await alice.ok(
        "PUT", status_path(alice.user_id), json={"presence": "online", "status_msg": "x"}
    )
    db = Database(settings.sqlalchemy_url())
    try:
        async with db.write() as conn:
            assert await forget_presence(conn, alice.user_id)
        async with db.write() as conn:
            assert not await forget_presence(conn, alice.user_id)
    finally:
        await db.dispose()
    assert await alice.ok("GET", status_path(alice.user_id)) == {"presence": "offline"}
