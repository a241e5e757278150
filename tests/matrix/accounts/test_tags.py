"""Room tags (`m.tag`) on both engines: add, replace, remove, read back, and see them in
/sync as the room's account data; bad input and other people's tags change nothing."""

import asyncio

import httpx

from tests.helpers.matrix import MatrixTestClient


def tags_path(who: MatrixTestClient, room: str, tag: str = "") -> str:
    base = f"/user/{who.user_id}/rooms/{room}/tags"
    return f"{base}/{tag}" if tag else base


async def test_tags_are_added_replaced_removed_and_synced(alice: MatrixTestClient) -> None:
    room = await alice.create_room(name="films")
    assert await alice.ok("GET", tags_path(alice, room)) == {"tags": {}}
    since = (await alice.sync())["next_batch"]

    assert await alice.ok("PUT", tags_path(alice, room, "m.favourite"), json={"order": 0.25}) == {}
    await alice.ok("PUT", tags_path(alice, room, "u.work"), json={})
    await alice.ok("PUT", tags_path(alice, room, "m.favourite"), json={"order": 0.5})
    assert await alice.ok("GET", tags_path(alice, room)) == {
        "tags": {"m.favourite": {"order": 0.5}, "u.work": {}}
    }

    synced = await alice.sync(since=since)
    events = synced["rooms"]["join"][room]["account_data"]["events"]
    assert {
        "type": "m.tag",
        "content": {"tags": {"m.favourite": {"order": 0.5}, "u.work": {}}},
    } in events

    await alice.ok("DELETE", tags_path(alice, room, "u.work"))
    await alice.ok("DELETE", tags_path(alice, room, "never.set"))  # a no-op, still 200
    assert await alice.ok("GET", tags_path(alice, room)) == {
        "tags": {"m.favourite": {"order": 0.5}}
    }
    # The same object through the generic account-data API.
    found = await alice.ok("GET", f"/user/{alice.user_id}/rooms/{room}/account_data/m.tag")
    assert found == {"tags": {"m.favourite": {"order": 0.5}}}


async def test_tags_added_at_once_all_stay(alice: MatrixTestClient) -> None:
    room = await alice.create_room(name="films")
    names = [f"u.t{i}" for i in range(8)]
    await asyncio.gather(*(alice.ok("PUT", tags_path(alice, room, n), json={}) for n in names))
    assert set((await alice.ok("GET", tags_path(alice, room)))["tags"]) == set(names)


async def test_bad_tags_and_other_peoples_tags_change_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(name="films")
    await alice.ok("PUT", tags_path(alice, room, "m.favourite"), json={"order": 0.5})
    cases = [
        (alice, tags_path(alice, room, "u.x"), {"order": "high"}, 400, "M_BAD_JSON"),
        (alice, tags_path(alice, room, "u.x"), {"order": True}, 400, "M_BAD_JSON"),
        (alice, tags_path(alice, room, "u.x"), {"order": 1.5}, 400, "M_INVALID_PARAM"),
        (alice, tags_path(alice, room, "u." + "x" * 300), {}, 400, "M_INVALID_PARAM"),
        (alice, tags_path(alice, room, "u.x"), ["not", "an", "object"], 400, "M_BAD_JSON"),
        (bob, tags_path(alice, room, "u.x"), {}, 403, "M_FORBIDDEN"),
    ]
    for who, path, body, status, errcode in cases:
        r = await who.request("PUT", path, json=body)
        assert (r.status_code, r.json()["errcode"]) == (status, errcode), (path, body)
    r = await bob.request("GET", tags_path(alice, room))
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await bob.request("DELETE", tags_path(alice, room, "m.favourite"))
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await http.get(f"/_matrix/client/v3{tags_path(alice, room)}")
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", tags_path(alice, room)) == {
        "tags": {"m.favourite": {"order": 0.5}}
    }
