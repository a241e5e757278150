"""Locking and suspending accounts (`/_matrix/client/v1/admin/lock|suspend/{userId}`) and
whois (`/_matrix/client/v3/admin/whois/{userId}`) on both engines."""

from collections.abc import AsyncIterator

import httpx
import pytest

from candor.config import Settings
from tests.helpers.admin import AdminEnv, admin_env
from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1/admin"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[AdminEnv]:
    async with admin_env(settings) as env:
        yield env


async def admin_call(
    env: AdminEnv, who: MatrixTestClient, method: str, path: str, body: object = None
) -> httpx.Response:
    return await env.http.request(method, V1 + path, json=body, headers=who.headers)


@pytest.mark.parametrize("what", ["lock", "suspend"])
async def test_only_server_admins_may_lock_or_suspend(env: AdminEnv, what: str) -> None:
    field = "locked" if what == "lock" else "suspended"
    # Authorisation comes before any lookup: an unknown user is 403 too, for non-admins.
    for target in (env.bob.user_id, "@nobody:test.local", "@x:elsewhere.example"):
        r = await admin_call(env, env.alice, "GET", f"/{what}/{target}")
        assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
        r = await admin_call(env, env.alice, "PUT", f"/{what}/{target}", {field: True})
        assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")

    r = await admin_call(env, env.admin, "GET", f"/{what}/@nobody:test.local")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await admin_call(env, env.admin, "PUT", f"/{what}/@x:elsewhere.example", {field: True})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    # Not the admin themself, nor another administrator.
    r = await admin_call(env, env.admin, "PUT", f"/{what}/{env.admin.user_id}", {field: True})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await admin_call(env, env.admin, "PUT", f"/{what}/{env.bob.user_id}", {field: "yes"})
    assert r.status_code == 400
    r = await admin_call(env, env.admin, "GET", f"/{what}/{env.bob.user_id}")
    assert (r.status_code, r.json()) == (200, {field: False})


async def test_a_locked_account_is_soft_logged_out_until_unlocked(env: AdminEnv) -> None:
    room = await env.bob.create_room()
    r = await admin_call(env, env.admin, "PUT", f"/lock/{env.bob.user_id}", {"locked": True})
    assert (r.status_code, r.json()) == (200, {"locked": True})
    r = await admin_call(env, env.admin, "GET", f"/lock/{env.bob.user_id}")
    assert r.json() == {"locked": True}

    for method, path in (("GET", "/sync"), ("GET", "/account/whoami"), ("GET", "/joined_rooms")):
        r = await env.bob.request(method, path)
        assert r.status_code == 401, path
        assert r.json()["errcode"] == "M_USER_LOCKED"
        assert r.json()["soft_logout"] is True
    r = await env.bob.request("PUT", f"/rooms/{room}/send/m.room.message/t1", json={"body": "x"})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_USER_LOCKED")
    # Others are unaffected.
    assert (await env.alice.request("GET", "/account/whoami")).status_code == 200

    r = await admin_call(env, env.admin, "PUT", f"/lock/{env.bob.user_id}", {"locked": False})
    assert r.json() == {"locked": False}
    assert (await env.bob.request("GET", "/account/whoami")).status_code == 200
    await env.bob.send(room, "back")


async def test_a_locked_account_cannot_log_in_again_until_unlocked(env: AdminEnv) -> None:
    devices = len((await env.bob.ok("GET", "/devices"))["devices"])
    await admin_call(env, env.admin, "PUT", f"/lock/{env.bob.user_id}", {"locked": True})
    body = {"type": "m.login.password", "user": env.bob.user_id, "password": "correct horse"}
    r = await env.http.post("/_matrix/client/v3/login", json=body)
    assert (r.status_code, r.json()["errcode"]) == (401, "M_USER_LOCKED")
    # A wrong password says nothing about the lock.
    wrong = await env.http.post("/_matrix/client/v3/login", json={**body, "password": "nope"})
    assert (wrong.status_code, wrong.json()["errcode"]) == (403, "M_FORBIDDEN")
    await admin_call(env, env.admin, "PUT", f"/lock/{env.bob.user_id}", {"locked": False})
    # No device was made by the refused login.
    assert len((await env.bob.ok("GET", "/devices"))["devices"]) == devices
    r = await env.http.post("/_matrix/client/v3/login", json=body)
    assert r.status_code == 200, r.text


async def test_a_locked_account_may_log_out(env: AdminEnv) -> None:
    await admin_call(env, env.admin, "PUT", f"/lock/{env.bob.user_id}", {"locked": True})
    r = await env.bob.request("POST", "/logout", json={})
    assert r.status_code == 200, r.text
    r = await env.bob.request("GET", "/account/whoami")
    assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"


async def test_a_suspended_account_reads_but_does_not_act(env: AdminEnv) -> None:
    room = await env.alice.create_room(preset="public_chat")
    await env.bob.join(room)
    mine = await env.bob.send(room, "before")
    other = await env.alice.create_room(preset="public_chat")
    await env.alice.invite(room, env.carol.user_id)

    r = await admin_call(env, env.admin, "PUT", f"/suspend/{env.bob.user_id}", {"suspended": True})
    assert (r.status_code, r.json()) == (200, {"suspended": True})
    assert (await admin_call(env, env.admin, "GET", f"/suspend/{env.bob.user_id}")).json() == {
        "suspended": True
    }

    refused = [
        ("PUT", f"/rooms/{room}/send/m.room.message/s1", {"msgtype": "m.text", "body": "x"}),
        ("PUT", f"/rooms/{room}/state/m.room.topic", {"topic": "x"}),
        ("POST", "/createRoom", {}),
        ("POST", f"/join/{other}", {}),
        ("POST", f"/rooms/{other}/join", {}),
        ("POST", f"/rooms/{room}/invite", {"user_id": env.carol.user_id}),
        ("PUT", f"/profile/{env.bob.user_id}/displayname", {"displayname": "B"}),
        ("PUT", f"/profile/{env.bob.user_id}/avatar_url", {"avatar_url": "mxc://a/b"}),
    ]
    for method, path, body in refused:
        r = await env.bob.request(method, path, json=body)
        assert (r.status_code, r.json()["errcode"]) == (403, "M_USER_SUSPENDED"), path
    r = await env.http.post(
        "/_matrix/media/v3/upload",
        content=b"hello",
        headers={**env.bob.headers, "Content-Type": "text/plain"},
    )
    assert (r.status_code, r.json()["errcode"]) == (403, "M_USER_SUSPENDED")

    # Reading still works: /sync, /messages, whoami.
    sync = await env.bob.sync()
    assert room in sync["rooms"]["join"]
    assert (await env.bob.messages(room))["chunk"]
    assert (await env.bob.request("GET", "/account/whoami")).status_code == 200
    # Redacting one's own events, reporting, leaving stay allowed.
    r = await env.bob.request("PUT", f"/rooms/{room}/redact/{mine}/r1", json={})
    assert r.status_code == 200, r.text
    r = await env.bob.request("POST", f"/users/{env.alice.user_id}/report", json={"reason": "x"})
    assert r.status_code == 200
    assert (await env.bob.request("POST", f"/rooms/{room}/leave", json={})).status_code == 200

    await admin_call(env, env.admin, "PUT", f"/suspend/{env.bob.user_id}", {"suspended": False})
    await env.bob.join(room)
    await env.bob.send(room, "after")


async def test_lock_and_suspend_are_independent(env: AdminEnv) -> None:
    bob = env.bob.user_id
    await admin_call(env, env.admin, "PUT", f"/suspend/{bob}", {"suspended": True})
    await admin_call(env, env.admin, "PUT", f"/lock/{bob}", {"locked": True})
    await admin_call(env, env.admin, "PUT", f"/lock/{bob}", {"locked": False})
    assert (await admin_call(env, env.admin, "GET", f"/suspend/{bob}")).json() == {
        "suspended": True
    }
    r = await env.bob.request("POST", "/createRoom", json={})
    assert r.json()["errcode"] == "M_USER_SUSPENDED"


async def test_whois_for_oneself_and_for_admins_with_a_record(env: AdminEnv) -> None:
    r = await env.bob.request("GET", f"/admin/whois/{env.bob.user_id}")
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == env.bob.user_id
    assert set(r.json()["devices"]) == {env.bob.device_id}
    sessions = r.json()["devices"][env.bob.device_id]["sessions"]
    for connection in sessions[0]["connections"]:
        assert set(connection) == {"last_seen"}  # no address, no user agent: none are kept
    size = await env.hs.tlog.size()

    r = await env.alice.request("GET", f"/admin/whois/{env.bob.user_id}")
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert await env.hs.tlog.size() == size  # looking yourself up is not recorded

    r = await env.admin.request(
        "GET", f"/admin/whois/{env.bob.user_id}", params={"justification": "ticket 7"}
    )
    assert r.status_code == 200, r.text
    assert set(r.json()["devices"]) == {env.bob.device_id}
    assert await env.hs.tlog.size() == size + 1
    mine = await env.http.get("/_candor/v1/me/accesses", headers=env.bob.headers)
    (record,) = [a["record"] for a in mine.json()["accesses"]]
    assert record["action"] == "admin.whois"
    assert record["basis"] == "ticket 7"
    assert record["subjects"] == [env.bob.user_id]

    r = await env.admin.request("GET", "/admin/whois/@nobody:test.local")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    # Without a stated reason it is still answered (clients send none) and still recorded.
    r = await env.admin.request("GET", f"/admin/whois/{env.carol.user_id}")
    assert r.status_code == 200
    theirs = await env.http.get("/_candor/v1/me/accesses", headers=env.carol.headers)
    (record,) = [a["record"] for a in theirs.json()["accesses"]]
    assert record["basis"] == "whois lookup (no reason given)"
