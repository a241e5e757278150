"""The space hierarchy (`GET /rooms/{roomId}/hierarchy`) and room summaries
(`GET /room_summary/{roomIdOrAlias}`): what a user may learn about rooms."""

from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1"


async def _v1(client: MatrixTestClient, path: str, **params: Any) -> httpx.Response:
    return await client.http.get(f"{V1}{path}", headers=client.headers, params=params)


async def _ok(client: MatrixTestClient, path: str, **params: Any) -> Any:
    r = await _v1(client, path, **params)
    assert r.status_code == 200, r.text
    return r.json()


async def _space(client: MatrixTestClient, name: str, **body: Any) -> str:
    return await client.create_room(
        name=name, creation_content={"type": "m.space"}, preset="public_chat", **body
    )


async def _add_child(client: MatrixTestClient, space: str, child: str, **content: Any) -> None:
    await client.ok(
        "PUT",
        f"/rooms/{space}/state/m.space.child/{child}",
        json={"via": ["test.local"], **content},
    )


async def _tree(alice: MatrixTestClient) -> dict[str, str]:
    """A space `root` with children `a` (a room, order "b"), `sub` (a space, order "a",
    with the room `deep` in it) and `secret` (a private room alice alone is in)."""
    root = await _space(alice, "root")
    sub = await _space(alice, "sub")
    a = await alice.create_room(name="a", preset="public_chat")
    deep = await alice.create_room(name="deep", preset="public_chat")
    secret = await alice.create_room(name="secret", preset="private_chat")
    await _add_child(alice, root, a, order="b", suggested=True)
    await _add_child(alice, root, sub, order="a")
    await _add_child(alice, root, secret, order="c")
    await _add_child(alice, sub, deep)
    # Not children: no `via`, and an empty one.
    await alice.ok("PUT", f"/rooms/{sub}/state/m.space.child/{a}", json={})
    return {"root": root, "sub": sub, "a": a, "deep": deep, "secret": secret}


def _names(body: Any) -> list[str]:
    return [room.get("name") for room in body["rooms"]]


async def test_the_hierarchy_walks_nested_spaces_in_order(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    rooms = await _tree(alice)
    body = await _ok(alice, f"/rooms/{rooms['root']}/hierarchy")
    assert _names(body) == ["root", "sub", "deep", "a", "secret"]
    assert "next_batch" not in body
    root = body["rooms"][0]
    assert root["room_type"] == "m.space"
    assert root["num_joined_members"] == 1
    assert [c["state_key"] for c in root["children_state"]] == [
        rooms["sub"],
        rooms["a"],
        rooms["secret"],
    ]
    assert body["rooms"][3]["children_state"] == []  # a plain room
    # Bob sees what is public, not the private room alice alone is in.
    assert _names(await _ok(bob, f"/rooms/{rooms['root']}/hierarchy")) == [
        "root",
        "sub",
        "deep",
        "a",
    ]


async def test_max_depth_suggested_only_and_limit(alice: MatrixTestClient) -> None:
    rooms = await _tree(alice)
    path = f"/rooms/{rooms['root']}/hierarchy"
    assert _names(await _ok(alice, path, max_depth=0)) == ["root"]
    assert _names(await _ok(alice, path, max_depth=1)) == ["root", "sub", "a", "secret"]
    suggested = await _ok(alice, path, suggested_only="true")
    assert _names(suggested) == ["root", "a"]
    assert [c["state_key"] for c in suggested["rooms"][0]["children_state"]] == [rooms["a"]]

    pages: list[str] = []
    since = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if since is not None:
            params["from"] = since
        body = await _ok(alice, path, **params)
        pages += _names(body)
        since = body.get("next_batch")
        if since is None:
            break
    assert pages == ["root", "sub", "deep", "a", "secret"]

    first = await _ok(alice, path, limit=1)
    changed = await _v1(alice, path, limit=1, max_depth=1, **{"from": first["next_batch"]})
    assert (changed.status_code, changed.json()["errcode"]) == (400, "M_INVALID_PARAM")
    unknown = await _v1(alice, path, **{"from": "nonsense"})
    assert (unknown.status_code, unknown.json()["errcode"]) == (400, "M_INVALID_PARAM")
    for bad in ({"limit": 0}, {"max_depth": -1}, {"limit": "many"}):
        r = await _v1(alice, path, **bad)
        assert r.status_code == 400, bad


async def test_the_hierarchy_refuses_a_root_the_user_may_not_see(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    rooms = await _tree(alice)
    hidden = await _v1(bob, f"/rooms/{rooms['secret']}/hierarchy")
    assert (hidden.status_code, hidden.json()["errcode"]) == (403, "M_FORBIDDEN")
    missing = await _v1(bob, "/rooms/!nothere:test.local/hierarchy")
    assert (missing.status_code, missing.json()["errcode"]) == (403, "M_FORBIDDEN")
    await alice.ok("POST", f"/rooms/{rooms['root']}/ban", json={"user_id": bob.user_id})
    banned = await _v1(bob, f"/rooms/{rooms['root']}/hierarchy")
    assert (banned.status_code, banned.json()["errcode"]) == (403, "M_FORBIDDEN")
    # An invitee sees the private room.
    await alice.invite(rooms["secret"], bob.user_id)
    assert _names(await _ok(bob, f"/rooms/{rooms['secret']}/hierarchy")) == ["secret"]


async def test_a_room_summary_follows_visibility(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    public = await alice.create_room(
        name="Lobby", topic="hello", preset="public_chat", room_alias_name="lobby"
    )
    private = await alice.create_room(name="Hidden", preset="private_chat")
    summary = await _ok(bob, f"/room_summary/{public}")
    assert summary["room_id"] == public
    assert summary["name"] == "Lobby"
    assert summary["topic"] == "hello"
    assert summary["join_rule"] == "public"
    assert summary["room_version"] == "10"
    assert summary["num_joined_members"] == 1
    assert summary["membership"] == "leave"
    by_alias = await _ok(bob, "/room_summary/%23lobby:test.local")
    assert by_alias["room_id"] == public
    mine = await _ok(alice, f"/room_summary/{private}")
    assert mine["membership"] == "join"
    assert mine["encryption"] == "m.megolm.v1.aes-sha2"
    for path in (
        f"/room_summary/{private}",
        "/room_summary/!nothere:test.local",
        "/room_summary/%23nothere:test.local",
    ):
        r = await _v1(bob, path)
        assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND"), path
    # A knock room may be learnt about (to knock on it); an invitee learns the private one.
    await alice.ok("PUT", f"/rooms/{private}/state/m.room.join_rules", json={"join_rule": "knock"})
    assert (await _ok(bob, f"/room_summary/{private}"))["join_rule"] == "knock"
    await alice.ok("PUT", f"/rooms/{private}/state/m.room.join_rules", json={"join_rule": "invite"})
    await alice.invite(private, bob.user_id)
    assert (await _ok(bob, f"/room_summary/{private}"))["membership"] == "invite"
    no_token = await alice.http.get(f"{V1}/room_summary/{public}")
    assert no_token.status_code == 401
