"""`/directory/room/{roomAlias}`: set, resolve and delete an alias, each answer in the spec's
shape (the `http` fixture validates it against `directory.yaml`)."""

from urllib.parse import quote

import httpx

from tests.helpers.matrix import V3, MatrixTestClient


def _alias_path(alias: str) -> str:
    return f"/directory/room/{quote(alias, safe='')}"


async def test_an_alias_is_set_resolved_and_deleted(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    path = _alias_path("#plans:test.local")
    assert await alice.ok("PUT", path, json={"room_id": room}) == {}
    # Resolving needs no token.
    r = await http.get(f"{V3}{path}")
    assert r.json() == {"room_id": room, "servers": ["test.local"]}
    taken = await alice.request("PUT", path, json={"room_id": room})
    assert (taken.status_code, taken.json()["errcode"]) == (409, "M_UNKNOWN")
    foreign = await bob.request("DELETE", path)
    assert (foreign.status_code, foreign.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert await alice.ok("DELETE", path) == {}
    gone = await http.get(f"{V3}{path}")
    assert (gone.status_code, gone.json()["errcode"]) == (404, "M_NOT_FOUND")
