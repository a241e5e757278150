"""`GET /_candor/admin/v1/users` and `/rooms` on both engines: administrators only, with a
justification, paged by key, never a message, and each page recorded in the transparency
log (naming the people on it) before it is returned."""

from collections.abc import AsyncIterator

import pytest

from candor.config import Settings
from candor.matrix.constants import EventType
from tests.helpers.admin import AdminEnv, admin_env

WHY = "ticket 12: account audit"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[AdminEnv]:
    async with admin_env(settings) as env:
        yield env


async def test_users_are_listed_with_their_account_facts(env: AdminEnv) -> None:
    r = await env.get(env.admin, "/users", justification=WHY)

    assert r.status_code == 200, r.text
    users = r.json()["users"]
    assert [u["user_id"] for u in users] == sorted(
        [env.admin.user_id, env.alice.user_id, env.bob.user_id, env.carol.user_id]
    )
    root = next(u for u in users if u["user_id"] == env.admin.user_id)
    alice = next(u for u in users if u["user_id"] == env.alice.user_id)
    assert root["admin"] is True
    assert alice["admin"] is False
    assert alice["deactivated"] is False
    assert isinstance(alice["created_ts"], int)
    assert "displayname" in alice
    assert set(alice) == {"user_id", "displayname", "admin", "deactivated", "created_ts"}
    assert "next_from" not in r.json()
    assert "password" not in r.text


async def test_users_are_paged_without_gaps_or_repeats(env: AdminEnv) -> None:
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 3}
    pages = 0
    while True:
        r = await env.get(env.admin, "/users", justification=WHY, **params)
        assert r.status_code == 200, r.text
        seen += [u["user_id"] for u in r.json()["users"]]
        pages += 1
        if "next_from" not in r.json():
            break
        params["from"] = r.json()["next_from"]

    assert pages == 2
    assert seen == sorted(
        [env.admin.user_id, env.alice.user_id, env.bob.user_id, env.carol.user_id]
    )


async def test_rooms_show_name_members_and_encryption_but_no_content(env: AdminEnv) -> None:
    club = await env.alice.create_room(name="Book club", preset="public_chat")
    await env.bob.join(club)
    await env.alice.send(club, "my secret plans")
    secret = await env.carol.create_room(
        initial_state=[
            {
                "type": EventType.ENCRYPTION,
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ]
    )
    size_before = await env.hs.tlog.size()

    r = await env.get(env.admin, "/rooms", justification=WHY)

    assert r.status_code == 200, r.text
    rooms = {room["room_id"]: room for room in r.json()["rooms"]}
    assert rooms[club]["name"] == "Book club"
    assert rooms[club]["joined_members"] == 2
    assert rooms[club]["encrypted"] is False
    assert rooms[secret]["name"] is None
    assert rooms[secret]["joined_members"] == 1
    assert rooms[secret]["encrypted"] is True
    assert set(rooms[club]) == {"room_id", "name", "joined_members", "encrypted", "created_ts"}
    assert "my secret plans" not in r.text
    # One record, naming every joined member of the listed rooms, and what was listed.
    assert await env.hs.tlog.size() == size_before + 1
    mine = await env.http.get("/_candor/v1/me/accesses", headers=env.alice.headers)
    (record,) = [a["record"] for a in mine.json()["accesses"]]
    assert record["action"] == "admin.list_rooms"
    assert record["basis"] == WHY
    assert record["subjects"] == sorted([env.alice.user_id, env.bob.user_id, env.carol.user_id])
    assert record["resource"]["count"] == len(rooms)


async def test_rooms_are_paged(env: AdminEnv) -> None:
    made = sorted([await env.alice.create_room() for _ in range(3)])

    first = await env.get(env.admin, "/rooms", justification=WHY, limit=2)
    rest = await env.get(
        env.admin, "/rooms", justification=WHY, limit=2, **{"from": first.json()["next_from"]}
    )

    assert [r["room_id"] for r in first.json()["rooms"]] == made[:2]
    assert [r["room_id"] for r in rest.json()["rooms"]] == made[2:]
    assert "next_from" not in rest.json()


async def test_a_users_page_is_recorded_naming_everyone_on_it(env: AdminEnv) -> None:
    r = await env.get(env.admin, "/users", justification=WHY, limit=2)

    listed = [u["user_id"] for u in r.json()["users"]]
    for person in (env.alice, env.bob, env.carol):
        mine = await env.http.get("/_candor/v1/me/accesses", headers=person.headers)
        records = [a["record"] for a in mine.json()["accesses"]]
        if person.user_id in listed:
            assert [(x["action"], x["basis"]) for x in records] == [("admin.list_users", WHY)]
            assert records[0]["subjects"] == sorted(listed)
        else:
            assert records == []


@pytest.mark.parametrize("path", ["/users", "/rooms"])
@pytest.mark.parametrize("justification", [None, "", "   ", "\u200b\u2060", "\ufeff \u3164"])
async def test_a_list_without_a_justification_is_refused_and_not_logged(
    env: AdminEnv, path: str, justification: str | None
) -> None:
    size = await env.hs.tlog.size()
    params = {} if justification is None else {"justification": justification}

    r = await env.get(env.admin, path, **params)

    assert (r.status_code, r.json()["errcode"]) == (400, "CANDOR_ACCESS_REFUSED")
    assert "users" not in r.json()
    assert "rooms" not in r.json()
    assert await env.hs.tlog.size() == size


async def test_when_the_log_fails_no_list_leaves(env: AdminEnv) -> None:
    await env.hs.tlog.stop()

    r = await env.get(env.admin, "/users", justification=WHY)

    assert (r.status_code, r.json()["errcode"]) == (503, "CANDOR_LOG_UNAVAILABLE")
    assert "users" not in r.json()


@pytest.mark.parametrize("path", ["/users", "/rooms"])
async def test_only_administrators_may_list(env: AdminEnv, path: str) -> None:
    forbidden = await env.get(env.alice, path, justification=WHY)
    anonymous = await env.get(None, path, justification=WHY)

    assert (forbidden.status_code, forbidden.json()["errcode"]) == (403, "CANDOR_FORBIDDEN")
    assert "users" not in forbidden.json()
    assert "rooms" not in forbidden.json()
    assert (anonymous.status_code, anonymous.json()["errcode"]) == (401, "CANDOR_MISSING_TOKEN")


@pytest.mark.parametrize("path", ["/users", "/rooms"])
@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"limit": "x"}])
async def test_bad_paging_is_refused(
    env: AdminEnv, path: str, params: dict[str, str | int]
) -> None:
    r = await env.http.get(
        "/_candor/admin/v1" + path,
        params={**params, "justification": WHY},
        headers=env.admin.headers,
    )

    assert (r.status_code, r.json()["errcode"]) == (400, "CANDOR_INVALID_PARAM")


async def test_a_rooms_page_is_recorded_even_when_no_one_is_joined(env: AdminEnv) -> None:
    """alice made a room, named it and left: no one is joined, yet the page shows its name,
    so it is recorded, naming her (issue 13 item 2)."""
    room = await env.alice.create_room(name="Left behind", preset="public_chat")
    await env.alice.ok("POST", f"/rooms/{room}/leave", json={})
    size = await env.hs.tlog.size()

    r = await env.get(env.admin, "/rooms", justification=WHY)

    assert r.status_code == 200, r.text
    (listed,) = r.json()["rooms"]
    assert (listed["name"], listed["joined_members"]) == ("Left behind", 0)
    assert await env.hs.tlog.size() == size + 1
    mine = await env.http.get("/_candor/v1/me/accesses", headers=env.alice.headers)
    (record,) = [a["record"] for a in mine.json()["accesses"]]
    assert (record["action"], record["subjects"]) == ("admin.list_rooms", [env.alice.user_id])
