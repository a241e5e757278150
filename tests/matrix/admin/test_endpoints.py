"""Administrator reads, on both engines: a justification and a log record come first, the
people concerned see the record (verified against the signed checkpoint), and when the
log cannot take the record, nothing is read."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.matrix.context import Homeserver
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

ADMIN = "/_candor/admin/v1"
ME = "/_candor/v1/me/accesses"


@dataclass
class Env:
    hs: Homeserver
    http: httpx.AsyncClient
    admin: MatrixTestClient
    alice: MatrixTestClient
    bob: MatrixTestClient
    carol: MatrixTestClient
    room: str

    async def read(self, who: MatrixTestClient, **params: str | int) -> httpx.Response:
        return await self.http.get(
            f"{ADMIN}/rooms/{self.room}/messages", params=params, headers=who.headers
        )

    async def accesses(self, who: MatrixTestClient) -> list[dict[str, object]]:
        r = await self.http.get(ME, headers=who.headers)
        assert r.status_code == 200, r.text
        accesses: list[dict[str, object]] = r.json()["accesses"]
        return accesses


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        hs: Homeserver = app.state.homeserver
        await app.state.services.accounts.create_user("root", "correct horse", admin=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as http:
            r = await http.post(
                "/_matrix/client/v3/login",
                json={"type": "m.login.password", "user": "root", "password": "correct horse"},
            )
            admin = MatrixTestClient(http, r.json()["user_id"], r.json()["access_token"], "ADM")
            alice = await MatrixTestClient.register(http, "alice")
            bob = await MatrixTestClient.register(http, "bob")
            carol = await MatrixTestClient.register(http, "carol")
            room = await alice.create_room(preset="public_chat")
            await bob.join(room)
            for i in range(3):
                await alice.send(room, f"hello {i}")
            yield Env(hs, http, admin, alice, bob, carol, room)


async def test_an_admin_read_is_recorded_first_and_shown_to_every_member(env: Env) -> None:
    r = await env.read(env.admin, justification="abuse report #12", limit=100)

    assert r.status_code == 200, r.text
    bodies = [e["content"].get("body") for e in r.json()["chunk"]]
    assert [b for b in bodies if b] == ["hello 0", "hello 1", "hello 2"]
    await env.hs.transparency.make_checkpoint()
    for member in (env.alice, env.bob):
        (access,) = await env.accesses(member)
        record = access["record"]
        assert isinstance(record, dict)
        assert record["basis"] == "abuse report #12"
        assert record["actor"] == {"kind": "admin", "id": env.admin.user_id}
        assert record["subjects"] == sorted([env.alice.user_id, env.bob.user_id])
        assert access["index"] == r.json()["log_index"]
        assert access["verified"] is True
    assert await env.accesses(env.carol) == []


@pytest.mark.parametrize("justification", [None, "", "   "])
async def test_no_justification_no_read(env: Env, justification: str | None) -> None:
    params: dict[str, str] = {} if justification is None else {"justification": justification}

    r = await env.read(env.admin, **params)

    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_ACCESS_REFUSED"
    assert "chunk" not in r.json()
    assert await env.accesses(env.alice) == []


async def test_only_administrators_may_read(env: Env) -> None:
    r = await env.read(env.bob, justification="curious")

    assert r.status_code == 403
    assert r.json()["errcode"] == "CANDOR_FORBIDDEN"
    assert await env.accesses(env.alice) == []


async def test_when_the_log_is_down_nothing_is_read(env: Env) -> None:
    await env.hs.tlog.stop()

    r = await env.read(env.admin, justification="abuse report #12")

    assert r.status_code == 503
    assert r.json()["errcode"] == "CANDOR_LOG_UNAVAILABLE"
    assert "chunk" not in r.json()


async def test_bad_requests(env: Env) -> None:
    unknown = await env.http.get(
        f"{ADMIN}/rooms/!nope:test.local/messages",
        params={"justification": "x"},
        headers=env.admin.headers,
    )
    malformed = await env.http.get(
        f"{ADMIN}/rooms/not-a-room/messages",
        params={"justification": "x"},
        headers=env.admin.headers,
    )
    anonymous = await env.http.get(f"{ADMIN}/rooms/{env.room}/messages")
    me_anonymous = await env.http.get(ME)

    assert (unknown.status_code, unknown.json()["errcode"]) == (404, "CANDOR_NOT_FOUND")
    assert (malformed.status_code, malformed.json()["errcode"]) == (400, "CANDOR_INVALID_PARAM")
    assert (anonymous.status_code, anonymous.json()["errcode"]) == (401, "CANDOR_MISSING_TOKEN")
    assert me_anonymous.status_code == 401


async def test_an_admin_read_names_everyone_in_the_range_not_only_members(env: Env) -> None:
    """carol wrote and left: she is not a member now, but her words are read, so the record
    names her and she sees it (issue 13 item 2)."""
    await env.carol.join(env.room)
    await env.carol.send(env.room, "carol's words")
    await env.carol.request("POST", f"/rooms/{env.room}/leave", json={})

    r = await env.read(env.admin, justification="abuse report #13", limit=100)

    assert r.status_code == 200, r.text
    assert "carol's words" in r.text
    (access,) = await env.accesses(env.carol)
    record = access["record"]
    assert isinstance(record, dict)
    assert access["index"] == r.json()["log_index"]
    assert record["subjects"] == sorted([env.alice.user_id, env.bob.user_id, env.carol.user_id])


@pytest.mark.parametrize("blank", ["\u200b", "\u200b\u200d\ufeff", " \u2060\t", "\u3164", "\u202e"])
async def test_a_justification_of_invisible_characters_is_refused(env: Env, blank: str) -> None:
    r = await env.read(env.admin, justification=blank)

    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_ACCESS_REFUSED"
    assert "chunk" not in r.json()
    assert await env.accesses(env.alice) == []
