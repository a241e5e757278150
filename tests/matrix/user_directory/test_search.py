"""People search on both engines: whom one finds (the searcher, room-mates, members of
public or world-readable rooms) and whom not (strangers, the deactivated); how names
and ids match and rank; limits; bad input answers 4xx and changes nothing."""

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from candor.config import Settings
from candor.store.db import Database
from candor.store.models.accounts import User
from tests.helpers.matrix import MatrixTestClient

SEARCH = "/user_directory/search"


async def search(who: MatrixTestClient, term: str, **body: Any) -> dict[str, Any]:
    found: dict[str, Any] = await who.ok("POST", SEARCH, json={"search_term": term, **body})
    return found


async def ids(who: MatrixTestClient, term: str, **body: Any) -> list[str]:
    return [r["user_id"] for r in (await search(who, term, **body))["results"]]


async def set_name(who: MatrixTestClient, name: str | None) -> None:
    await who.ok("PUT", f"/profile/{who.user_id}/displayname", json={"displayname": name})


async def test_a_room_mate_is_found_by_name_word_and_id_prefix_any_case(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await set_name(bob, "Robert Ångström")
    room = await alice.create_room(invite=[bob.user_id])
    await bob.join(room)
    await bob.ok("PUT", f"/profile/{bob.user_id}/avatar_url", json={"avatar_url": "mxc://x/y"})

    for term in ("rob", "ROBERT", "robert å", "ångs", "ÅNGSTRÖM", "bo", "@bob:te", "  Rob  "):
        assert await ids(alice, term) == [bob.user_id], term
    assert (await search(alice, "rob"))["results"] == [
        {"user_id": bob.user_id, "display_name": "Robert Ångström", "avatar_url": "mxc://x/y"}
    ]
    # Not a match: inside a word, or the server name.
    for term in ("bert", "ngström", "test.local", "x"):
        assert await ids(alice, term) == [], term


async def test_a_stranger_is_not_found_until_they_share_or_enter_a_public_room(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    # Carol is in a private room with Bob only: Alice shares nothing with either.
    private = await carol.create_room(invite=[bob.user_id])
    await bob.join(private)
    assert await ids(alice, "carol") == []
    assert await ids(alice, "bob") == []
    assert await ids(bob, "carol") == [carol.user_id]  # they share a room
    # An invitation is not a shared room; a kick or a leave ends one.
    mine = await alice.create_room(invite=[carol.user_id])
    assert await ids(alice, "carol") == []
    await carol.join(mine)
    assert await ids(alice, "carol") == [carol.user_id]
    await carol.ok("POST", f"/rooms/{mine}/leave", json={})
    assert await ids(alice, "carol") == []

    # A room anyone may join makes its members findable by everyone...
    lobby = await bob.create_room(preset="public_chat")
    assert await ids(alice, "bob") == [bob.user_id]
    # ...until it is no longer public.
    await bob.ok("PUT", f"/rooms/{lobby}/state/m.room.join_rules", json={"join_rule": "invite"})
    assert await ids(alice, "bob") == []
    # A room whose history anyone may read does too.
    await bob.ok(
        "PUT",
        f"/rooms/{lobby}/state/m.room.history_visibility",
        json={"history_visibility": "world_readable"},
    )
    assert await ids(alice, "bob") == [bob.user_id]


async def test_the_searcher_finds_themself(alice: MatrixTestClient) -> None:
    assert await ids(alice, "ali") == [alice.user_id]


async def test_a_deactivated_account_is_not_found(
    settings: Settings, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    assert await ids(alice, "bob") == [bob.user_id]
    db = Database(settings.sqlalchemy_url())
    try:
        async with db.write() as conn:
            await conn.execute(
                update(User).where(User.user_id == bob.user_id).values(deactivated=True)
            )
    finally:
        await db.dispose()
    assert await ids(alice, "bob") == []


async def test_a_new_name_replaces_the_old_one(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await set_name(bob, "Zebedee")
    assert await ids(alice, "zeb") == [bob.user_id]
    await set_name(bob, None)
    assert await ids(alice, "zeb") == []
    assert (await search(alice, "bob"))["results"] == [{"user_id": bob.user_id}]


async def test_ranking_exact_then_name_then_word_then_id_and_room_mates_first(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    people = {
        name: await MatrixTestClient.register(http, name)
        for name in ("anna", "annabel", "lee", "zed", "yan", "xavier", "annex")
    }
    await set_name(people["anna"], "Anna")  # exact name
    await set_name(people["annabel"], "Annabel Smith")  # name prefix
    await set_name(people["lee"], "Lee Anne")  # word prefix
    await set_name(people["zed"], "Zed")  # found by nothing
    await set_name(people["yan"], "Ann Yan")  # name prefix, shares a room
    await set_name(people["xavier"], "Xavier")
    await set_name(people["annex"], "Quentin")  # only the user id matches
    # Alice is not in the public room: only Yan shares a room with her.
    lobby = await people["xavier"].create_room(preset="public_chat")
    for who in people.values():
        await who.join(lobby)
    private = await alice.create_room(invite=[people["yan"].user_id])
    await people["yan"].join(private)

    got = await ids(alice, "ann")
    assert got == [
        people["yan"].user_id,  # "ann yan": a name prefix, and a room-mate
        people["anna"].user_id,  # name prefixes (not exact for "ann"), by user id
        people["annabel"].user_id,
        people["lee"].user_id,  # a later word
        people["annex"].user_id,  # the user id
    ]
    got = await ids(alice, "anna")
    assert got[0] == people["anna"].user_id  # exact name first
    assert await ids(alice, "xav") == [people["xavier"].user_id]


async def test_limit_defaults_to_ten_caps_at_fifty_and_says_limited(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    lobby = await alice.create_room(preset="public_chat")
    for i in range(12):
        who = await MatrixTestClient.register(http, f"crowd{i:02d}")
        await who.join(lobby)
    found = await search(alice, "crowd")
    assert len(found["results"]) == 10
    assert found["limited"] is True
    found = await search(alice, "crowd", limit=12)
    assert len(found["results"]) == 12
    assert found["limited"] is False
    found = await search(alice, "crowd", limit=1000)
    assert len(found["results"]) == 12
    assert found["limited"] is False
    found = await search(alice, "crowd", limit=0)
    assert found == {"results": [], "limited": True}
    assert await search(alice, "   ") == {"results": [], "limited": False}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "M_MISSING_PARAM"),
        ({"search_term": 5}, "M_BAD_JSON"),
        ({"search_term": "a", "limit": -1}, "M_BAD_JSON"),
        ({"search_term": "a", "limit": "10"}, "M_BAD_JSON"),
        ({"search_term": "a" * 1001}, "M_BAD_JSON"),
    ],
)
async def test_bad_input_is_refused(
    http: httpx.AsyncClient, alice: MatrixTestClient, body: dict[str, Any], code: str
) -> None:
    r = await alice.request("POST", SEARCH, json=body)
    assert (r.status_code, r.json()["errcode"]) == (400, code)
    r = await http.post("/_matrix/client/v3" + SEARCH, json={"search_term": "a"})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
