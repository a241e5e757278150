"""Extended profile fields (issue 18, spec v1.16): m.tz and custom keys beside displayname
and avatar_url; set, get, delete, limits, and other people's profiles."""

from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient

V3 = "/_matrix/client/v3"


def err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def put(
    user: MatrixTestClient, key: str, body: Any, who: str | None = None
) -> httpx.Response:
    return await user.request("PUT", f"/profile/{who or user.user_id}/{key}", json=body)


async def test_set_get_and_delete_fields(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    assert (await put(alice, "m.tz", {"m.tz": "Europe/Paris"})).status_code == 200
    job = {"title": "Engineer", "since": 2020, "tags": ["a", None]}
    assert (await put(alice, "org.example.job", {"org.example.job": job})).status_code == 200
    assert (await put(alice, "org.example.null", {"org.example.null": None})).status_code == 200

    profile = (await http.get(f"{V3}/profile/{alice.user_id}")).json()
    assert profile == {
        "displayname": "alice",
        "m.tz": "Europe/Paris",
        "org.example.job": job,
        "org.example.null": None,
    }
    # Anyone may read a field (as displayname), signed in or not.
    r = await bob.request("GET", f"/profile/{alice.user_id}/org.example.job")
    assert r.json() == {"org.example.job": job}
    r = await http.get(f"{V3}/profile/{alice.user_id}/m.tz")
    assert r.json() == {"m.tz": "Europe/Paris"}

    # Replace, then delete (twice: 200 both times).
    assert (await put(alice, "m.tz", {"m.tz": "Asia/Tokyo"})).status_code == 200
    assert (await http.get(f"{V3}/profile/{alice.user_id}/m.tz")).json() == {"m.tz": "Asia/Tokyo"}
    for _ in range(2):
        r = await alice.request("DELETE", f"/profile/{alice.user_id}/m.tz")
        assert r.status_code == 200
    assert err(await http.get(f"{V3}/profile/{alice.user_id}/m.tz")) == (404, "M_NOT_FOUND")
    assert "m.tz" not in (await http.get(f"{V3}/profile/{alice.user_id}")).json()


async def test_delete_displayname_and_avatar_updates_member_events(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    room = await alice.create_room()
    await alice.ok("PUT", f"/profile/{alice.user_id}/avatar_url", json={"avatar_url": "mxc://x/y"})
    assert (await put(alice, "displayname", {"displayname": "Alice A."})).status_code == 200
    member = await alice.ok("GET", f"/rooms/{room}/state/m.room.member/{alice.user_id}")
    assert member["displayname"] == "Alice A."
    assert member["avatar_url"] == "mxc://x/y"
    for key in ("displayname", "avatar_url"):
        assert (await alice.request("DELETE", f"/profile/{alice.user_id}/{key}")).status_code == 200
    assert (await http.get(f"{V3}/profile/{alice.user_id}")).json() == {}
    assert err(await http.get(f"{V3}/profile/{alice.user_id}/displayname")) == (404, "M_NOT_FOUND")
    member = await alice.ok("GET", f"/rooms/{room}/state/m.room.member/{alice.user_id}")
    assert "displayname" not in member
    assert "avatar_url" not in member


async def test_others_may_not_change_a_profile(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await put(alice, "org.example.x", {"org.example.x": 1})
    r = await put(bob, "org.example.x", {"org.example.x": 2}, who=alice.user_id)
    assert err(r) == (403, "M_FORBIDDEN")
    r = await bob.request("DELETE", f"/profile/{alice.user_id}/org.example.x")
    assert err(r) == (403, "M_FORBIDDEN")
    r = await bob.request("DELETE", f"/profile/{alice.user_id}/displayname")
    assert err(r) == (403, "M_FORBIDDEN")
    r = await http.put(f"{V3}/profile/{alice.user_id}/org.example.x", json={"org.example.x": 3})
    assert err(r) == (401, "M_MISSING_TOKEN")
    profile = (await http.get(f"{V3}/profile/{alice.user_id}")).json()
    assert profile == {"displayname": "alice", "org.example.x": 1}


async def test_key_rules_and_bad_bodies_change_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    for key in ("nodot", "Org.example.x", "org..x", "org.example.", "m.custom", "1a.b"):
        assert err(await put(alice, key, {key: 1})) == (400, "M_INVALID_PARAM"), key
    long_key = "org." + "a" * 252
    assert err(await put(alice, long_key, {long_key: 1})) == (400, "M_KEY_TOO_LARGE")
    assert err(await alice.request("DELETE", f"/profile/{alice.user_id}/{long_key}")) == (
        400,
        "M_KEY_TOO_LARGE",
    )
    assert err(await put(alice, "org.example.x", {"other": 1})) == (400, "M_MISSING_PARAM")
    assert err(await put(alice, "m.tz", {"m.tz": 5})) == (400, "M_INVALID_PARAM")
    assert err(await put(alice, "org.example.x", [1])) == (400, "M_BAD_JSON")
    r = await alice.request("PUT", f"/profile/{alice.user_id}/org.example.x", content=b"{not json")
    assert r.status_code == 400
    assert (await http.get(f"{V3}/profile/{alice.user_id}")).json() == {"displayname": "alice"}
    # Unknown keys and unknown people.
    r = await http.get(f"{V3}/profile/{alice.user_id}/org.example.unset")
    assert err(r) == (404, "M_NOT_FOUND")
    assert err(await http.get(f"{V3}/profile/@nobody:test.local")) == (404, "M_NOT_FOUND")


async def test_the_whole_profile_stays_under_64_kib(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    big = "x" * 40_000
    assert (await put(alice, "org.example.a", {"org.example.a": big})).status_code == 200
    r = await put(alice, "org.example.b", {"org.example.b": big})
    assert err(r) == (400, "M_PROFILE_TOO_LARGE")
    # Replacing a field counts its new size, not both.
    assert (await put(alice, "org.example.a", {"org.example.a": big + "y"})).status_code == 200
    profile = (await http.get(f"{V3}/profile/{alice.user_id}")).json()
    assert set(profile) == {"displayname", "org.example.a"}
    assert (
        await alice.request("DELETE", f"/profile/{alice.user_id}/org.example.a")
    ).status_code == 200
    assert (await put(alice, "org.example.b", {"org.example.b": big})).status_code == 200


async def test_capabilities_offer_profile_fields(alice: MatrixTestClient) -> None:
    caps = (await alice.ok("GET", "/capabilities"))["capabilities"]
    assert caps["m.profile_fields"] == {"enabled": True}
