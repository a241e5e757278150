"""`GET /_matrix/client/v1/mutual_rooms`: the rooms both users are joined to."""

from typing import Any

import httpx
import pytest

from candor.matrix.rooms import spaces
from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1"


async def _mutual(client: MatrixTestClient, **params: Any) -> httpx.Response:
    return await client.http.get(f"{V1}/mutual_rooms", headers=client.headers, params=params)


async def test_only_rooms_both_are_joined_to(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    both = await alice.create_room(preset="public_chat")
    await bob.join(both)
    invited = await alice.create_room()
    await alice.invite(invited, bob.user_id)
    left = await alice.create_room(preset="public_chat")
    await bob.join(left)
    await bob.ok("POST", f"/rooms/{left}/leave", json={})
    await alice.create_room()  # alice alone
    r = await _mutual(alice, user_id=bob.user_id)
    assert r.status_code == 200
    assert r.json() == {"joined": [both], "count": 1}
    assert (await _mutual(bob, user_id=alice.user_id)).json()["joined"] == [both]
    assert (await _mutual(alice, user_id=carol.user_id)).json() == {"joined": [], "count": 0}
    # An unknown user shares nothing (the spec's empty list).
    unknown = await _mutual(alice, user_id="@nobody:test.local")
    assert unknown.json() == {"joined": [], "count": 0}


async def test_mutual_rooms_page_by_next_batch(
    alice: MatrixTestClient, bob: MatrixTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spaces, "DEFAULT_MUTUAL_PAGE", 2)
    rooms = []
    for _ in range(5):
        room = await alice.create_room(preset="public_chat")
        await bob.join(room)
        rooms.append(room)
    seen: list[str] = []
    params: dict[str, str] = {"user_id": bob.user_id}
    for _ in range(5):
        body = (await _mutual(alice, **params)).json()
        assert body["count"] == 5
        assert len(body["joined"]) <= 2
        seen += body["joined"]
        if "next_batch" not in body:
            break
        params["from"] = body["next_batch"]
    assert seen == sorted(rooms)


async def test_mutual_rooms_refusals(alice: MatrixTestClient) -> None:
    for params in (
        {},
        {"user_id": "not-a-user"},
        {"user_id": alice.user_id},
        {"user_id": "@bob:test.local", "from": "nonsense"},
    ):
        r = await _mutual(alice, **params)
        assert r.status_code == 400, params
        assert r.json()["errcode"] in ("M_INVALID_PARAM", "M_MISSING_PARAM"), params
    no_token = await alice.http.get(f"{V1}/mutual_rooms", params={"user_id": "@bob:test.local"})
    assert no_token.status_code == 401
