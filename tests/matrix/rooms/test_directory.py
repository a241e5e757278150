"""The published room directory on both engines: publishing (createRoom `visibility`,
`PUT /directory/list/room`) and who may; what `/publicRooms` lists and how (summaries
in the spec's shape, largest first, paging, filters); `GET /rooms/{id}/aliases`. Bad
input answers 4xx and changes nothing."""

from typing import Any

import httpx
import pytest

from candor.config import Settings
from tests.helpers.admin import admin_env
from tests.helpers.matrix import V3, MatrixTestClient

LIST = "/directory/list/room"


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def listed(who: MatrixTestClient, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await who.ok("GET", "/publicRooms", params=params)
    return page


async def search(who: MatrixTestClient, **body: Any) -> dict[str, Any]:
    page: dict[str, Any] = await who.ok("POST", "/publicRooms", json=body)
    return page


def room_ids(page: dict[str, Any]) -> list[str]:
    return [r["room_id"] for r in page["chunk"]]


async def visibility(http: httpx.AsyncClient, room: str) -> str:
    r = await http.get(f"{V3}{LIST}/{room}")  # no token needed
    assert r.status_code == 200, r.text
    value: str = r.json()["visibility"]
    return value


async def test_a_room_created_public_is_listed_with_its_summary(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(
        visibility="public",
        preset="public_chat",
        name="Lobby",
        topic="Say hi",
        room_alias_name="lobby",
        initial_state=[
            {"type": "m.room.avatar", "state_key": "", "content": {"url": "mxc://test.local/l"}}
        ],
    )
    await bob.join(room)
    hidden = await alice.create_room(preset="public_chat", name="Unlisted")

    assert await visibility(http, room) == "public"
    assert await visibility(http, hidden) == "private"
    page = await listed(bob)
    assert page == {
        "chunk": [
            {
                "room_id": room,
                "name": "Lobby",
                "topic": "Say hi",
                "canonical_alias": "#lobby:test.local",
                "avatar_url": "mxc://test.local/l",
                "num_joined_members": 2,
                "world_readable": False,
                "guest_can_join": False,
                "join_rule": "public",
            }
        ],
        "total_room_count_estimate": 1,
    }
    assert room_ids(await listed(bob, server="test.local")) == [room]


async def test_publishing_takes_the_power_to_set_the_canonical_alias(
    settings: Settings,
) -> None:
    async with admin_env(settings) as env:
        alice, bob, carol, root = env.alice, env.bob, env.carol, env.admin
        room = await alice.create_room(preset="public_chat", name="Club")
        await bob.join(room)
        path = f"{LIST}/{room}"

        # Bob is a member without the power; Carol is not a member.
        for who, code in ((bob, 403), (carol, 403)):
            r = await who.request("PUT", path, json={"visibility": "public"})
            assert _err(r) == (code, "M_FORBIDDEN")
        assert await visibility(env.http, room) == "private"

        assert await alice.ok("PUT", path, json={"visibility": "public"}) == {}
        assert await visibility(env.http, room) == "public"
        assert room_ids(await listed(carol)) == [room]
        await alice.ok("PUT", path, json={"visibility": "private"})
        assert room_ids(await listed(carol)) == []
        # A moderator (power to set m.room.canonical_alias, 50) may; the body defaults
        # to public.
        await alice.ok(
            "PUT",
            f"/rooms/{room}/state/m.room.power_levels",
            json={"users": {alice.user_id: 100, bob.user_id: 50}},
        )
        await bob.ok("PUT", path, json={})
        assert await visibility(env.http, room) == "public"
        # A server administrator may, member or not.
        await root.ok("PUT", path, json={"visibility": "private"})
        assert await visibility(env.http, room) == "private"


async def test_bad_directory_changes_are_refused_and_change_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat", visibility="public")
    path = f"{LIST}/{room}"
    cases = [
        (path, {"visibility": "hidden"}, 400, "M_INVALID_PARAM"),
        (path, {"visibility": 1}, 400, "M_BAD_JSON"),
        (f"{LIST}/!nowhere:test.local", {"visibility": "private"}, 404, "M_NOT_FOUND"),
        (f"{LIST}/not-a-room", {"visibility": "private"}, 400, "M_INVALID_PARAM"),
    ]
    for target, body, status, code in cases:
        r = await alice.request("PUT", target, json=body)
        assert _err(r) == (status, code), (target, body)
    r = await http.put(f"{V3}{path}", json={"visibility": "private"})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    assert await visibility(http, room) == "public"
    assert _err(await http.get(f"{V3}{LIST}/!nowhere:test.local")) == (404, "M_NOT_FOUND")
    r = await alice.request("POST", "/createRoom", json={"visibility": "everyone"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    assert room_ids(await listed(alice)) == [room]


async def test_a_published_room_nobody_may_join_or_read_is_not_listed(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(preset="public_chat", visibility="public")
    await alice.ok("PUT", f"/rooms/{room}/state/m.room.join_rules", json={"join_rule": "invite"})
    assert room_ids(await listed(alice)) == []
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.history_visibility",
        json={"history_visibility": "world_readable"},
    )
    (summary,) = (await listed(alice))["chunk"]
    assert summary["world_readable"] is True
    assert summary["join_rule"] == "invite"


async def test_pages_go_largest_first_and_back(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    people = [await MatrixTestClient.register(http, f"p{i}") for i in range(4)]
    rooms = []
    for size in range(5):  # room i has i + 1 joined members
        room = await alice.create_room(preset="public_chat", visibility="public")
        for who in people[:size]:
            await who.join(room)
        rooms.append(room)
    largest_first = list(reversed(rooms))

    first = await listed(alice, limit=2)
    assert room_ids(first) == largest_first[:2]
    assert [r["num_joined_members"] for r in first["chunk"]] == [5, 4]
    assert first["total_room_count_estimate"] == 5
    assert "prev_batch" not in first
    second = await listed(alice, limit=2, since=first["next_batch"])
    assert room_ids(second) == largest_first[2:4]
    third = await search(alice, limit=2, since=second["next_batch"])
    assert room_ids(third) == largest_first[4:]
    assert "next_batch" not in third
    back = await listed(alice, limit=2, since=third["prev_batch"])
    assert room_ids(back) == largest_first[2:4]

    for params in ({"since": "garbage"}, {"since": "o-1"}, {"limit": 0}, {"limit": "x"}):
        r = await alice.request("GET", "/publicRooms", params=params)
        assert r.status_code == 400, params
    r = await alice.request("POST", "/publicRooms", json={"limit": 0})
    assert _err(r) == (400, "M_INVALID_PARAM")


async def test_the_filter_searches_name_topic_and_alias_and_room_types(
    alice: MatrixTestClient,
) -> None:
    cats = await alice.create_room(
        preset="public_chat", visibility="public", name="Cat Pictures", topic="meow"
    )
    dogs = await alice.create_room(
        preset="public_chat", visibility="public", name="Dogs", room_alias_name="woof"
    )
    space = await alice.create_room(
        preset="public_chat",
        visibility="public",
        name="Pets space",
        creation_content={"type": "m.space"},
    )

    async def found(**flt: Any) -> set[str]:
        return set(room_ids(await search(alice, filter=flt)))

    assert await found(generic_search_term="cAT pic") == {cats}
    assert await found(generic_search_term="MEOW") == {cats}
    assert await found(generic_search_term="#woof") == {dogs}
    assert await found(generic_search_term="pets") == {space}
    assert await found(generic_search_term="nothing like it") == set()
    assert await found(room_types=[None]) == {cats, dogs}
    assert await found(room_types=["m.space"]) == {space}
    assert await found(room_types=[None, "m.space"]) == {cats, dogs, space}
    assert await found() == {cats, dogs, space}
    assert (await search(alice, filter={"room_types": ["m.space"]}))["chunk"][0][
        "room_type"
    ] == "m.space"
    page = await search(alice, filter={"generic_search_term": "s"}, limit=1)
    assert page["total_room_count_estimate"] == 3
    assert "next_batch" in page
    # No bridged networks: all networks is this one, and a third-party one is empty.
    assert set(room_ids(await search(alice, include_all_networks=True))) == {cats, dogs, space}
    assert (await search(alice, third_party_instance_id="irc"))["chunk"] == []


async def test_public_rooms_needs_a_token_and_this_server(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    await alice.create_room(preset="public_chat", visibility="public")
    assert _err(await http.get(f"{V3}/publicRooms")) == (401, "M_MISSING_TOKEN")
    assert _err(await http.post(f"{V3}/publicRooms", json={})) == (401, "M_MISSING_TOKEN")
    r = await alice.request("GET", "/publicRooms", params={"server": "matrix.org"})
    assert _err(r) == (400, "M_INVALID_PARAM")
    r = await alice.request("POST", "/publicRooms", params={"server": "matrix.org"}, json={})
    assert _err(r) == (400, "M_INVALID_PARAM")
    for body in ({"filter": {"room_types": "m.space"}}, {"filter": {"generic_search_term": 3}}):
        r = await alice.request("POST", "/publicRooms", json=body)
        assert _err(r) == (400, "M_BAD_JSON"), body


# --- GET /rooms/{roomId}/aliases -------------------------------------------------------


@pytest.mark.parametrize("world_readable", [False, True])
async def test_local_aliases_for_members_or_a_world_readable_room(
    alice: MatrixTestClient, bob: MatrixTestClient, world_readable: bool
) -> None:
    room = await alice.create_room(preset="public_chat", room_alias_name="main")
    await alice.ok("PUT", "/directory/room/%23second:test.local", json={"room_id": room})
    if world_readable:
        await alice.ok(
            "PUT",
            f"/rooms/{room}/state/m.room.history_visibility",
            json={"history_visibility": "world_readable"},
        )
    expected = {"aliases": ["#main:test.local", "#second:test.local"]}
    assert await alice.ok("GET", f"/rooms/{room}/aliases") == expected
    r = await bob.request("GET", f"/rooms/{room}/aliases")
    if world_readable:
        assert r.json() == expected
    else:
        assert _err(r) == (403, "M_FORBIDDEN")
    await bob.join(room)
    assert await bob.ok("GET", f"/rooms/{room}/aliases") == expected
    fresh = await alice.create_room()
    assert await alice.ok("GET", f"/rooms/{fresh}/aliases") == {"aliases": []}
    assert _err(await alice.request("GET", "/rooms/!unknown:test.local/aliases")) == (
        403,
        "M_FORBIDDEN",
    )
    assert _err(await alice.request("GET", "/rooms/garbage/aliases")) == (400, "M_INVALID_PARAM")
