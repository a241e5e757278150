"""Accounts endpoints over HTTP: register, login, logout, password, profile, filters, data."""

import time

import httpx
import pytest

from tests.helpers.matrix import V3, MatrixTestClient


async def _login(http: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    return await http.post(f"{V3}/login", json={"type": "m.login.password", **body})


# --- /login --------------------------------------------------------------------------


async def test_login_flows_offer_password_and_login_tokens(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{V3}/login")
    assert r.status_code == 200
    assert r.json() == {
        "flows": [{"type": "m.login.password"}, {"type": "m.login.token", "get_login_token": True}]
    }


async def test_login_with_user_identifier_returns_working_token(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await _login(
        http,
        {
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse",
            "device_id": "PHONE",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == "@alice:test.local"
    assert body["device_id"] == "PHONE"
    assert body["home_server"] == "test.local"
    assert body["access_token"] != alice.token
    who = await http.get(
        f"{V3}/account/whoami", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert who.json()["device_id"] == "PHONE"


async def test_login_with_legacy_user_field_and_full_user_id(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    for user in ("alice", "@alice:test.local", "ALICE"):
        r = await _login(http, {"user": user, "password": "correct horse"})
        assert r.status_code == 200, (user, r.text)
        assert r.json()["user_id"] == "@alice:test.local"


async def test_login_with_wrong_password_is_forbidden_and_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await _login(http, {"user": "alice", "password": "wrong"})
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_FORBIDDEN"
    r = await _login(http, {"user": "nobody", "password": "correct horse"})
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_FORBIDDEN"
    avail = await http.get(f"{V3}/register/available", params={"username": "nobody"})
    assert avail.json() == {"available": True}
    assert (await alice.ok("GET", "/account/whoami"))["device_id"] == alice.device_id


async def test_login_with_bad_input_is_rejected(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await http.post(f"{V3}/login", json={"type": "m.login.unknown", "token": "x"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_UNKNOWN")
    r = await http.post(f"{V3}/login", json={"type": "m.login.password", "user": "alice"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_MISSING_PARAM")
    r = await http.post(f"{V3}/login", json={"type": 5, "user": "alice", "password": "x"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")


# --- /register -----------------------------------------------------------------------


async def test_register_with_dummy_auth_in_one_request(http: httpx.AsyncClient) -> None:
    r = await http.post(
        f"{V3}/register",
        json={"username": "dave", "password": "pw", "auth": {"type": "m.login.dummy"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == "@dave:test.local"
    assert body["access_token"]
    assert body["device_id"]
    assert body["home_server"] == "test.local"


async def test_register_uia_round_trip_returns_flows_and_session(http: httpx.AsyncClient) -> None:
    first = await http.post(f"{V3}/register", json={"username": "erin", "password": "pw"})
    assert first.status_code == 401
    challenge = first.json()
    assert challenge["flows"] == [{"stages": ["m.login.dummy"]}]
    assert isinstance(challenge["session"], str)
    assert challenge["session"]
    # Nothing was created by the challenge.
    avail = await http.get(f"{V3}/register/available", params={"username": "erin"})
    assert avail.json() == {"available": True}
    second = await http.post(
        f"{V3}/register",
        json={
            "username": "erin",
            "password": "pw",
            "auth": {"type": "m.login.dummy", "session": challenge["session"]},
        },
    )
    assert second.status_code == 200, second.text
    assert second.json()["user_id"] == "@erin:test.local"


async def test_register_taken_username_is_user_in_use(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await http.post(
        f"{V3}/register",
        json={"username": "alice", "password": "other", "auth": {"type": "m.login.dummy"}},
    )
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_USER_IN_USE"
    # Alice's password is unchanged.
    assert (await _login(http, {"user": "alice", "password": "correct horse"})).status_code == 200
    assert (await _login(http, {"user": "alice", "password": "other"})).status_code == 403


async def test_register_invalid_username_is_rejected_and_nothing_created(
    http: httpx.AsyncClient,
) -> None:
    for name in ("has space", "emoji\u2603", "colon:name"):
        r = await http.post(
            f"{V3}/register",
            json={"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}},
        )
        assert r.status_code == 400, name
        assert r.json()["errcode"] == "M_INVALID_USERNAME"
    r = await _login(http, {"user": "has space", "password": "pw"})
    assert r.status_code == 403


# --- tokens, logout ------------------------------------------------------------------


async def test_missing_and_unknown_token_are_rejected(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{V3}/account/whoami")
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    r = await http.get(f"{V3}/account/whoami", headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_whoami_accepts_token_as_query_param(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await http.get(f"{V3}/account/whoami", params={"access_token": alice.token})
    assert r.status_code == 200
    assert r.json() == {"user_id": alice.user_id, "device_id": alice.device_id, "is_guest": False}


async def test_logout_invalidates_only_that_token(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    other = (await _login(http, {"user": "alice", "password": "correct horse"})).json()
    assert await alice.ok("POST", "/logout", json={}) == {}
    r = await alice.request("GET", "/account/whoami")
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    r = await http.get(
        f"{V3}/account/whoami", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert r.status_code == 200


async def test_logout_without_token_is_rejected(http: httpx.AsyncClient) -> None:
    r = await http.post(f"{V3}/logout", json={})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    r = await http.post(f"{V3}/logout/all", json={})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")


async def test_logout_all_invalidates_every_token_of_the_user_only(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    other = (await _login(http, {"user": "alice", "password": "correct horse"})).json()
    assert await alice.ok("POST", "/logout/all", json={}) == {}
    for token in (alice.token, other["access_token"]):
        r = await http.get(f"{V3}/account/whoami", headers={"Authorization": f"Bearer {token}"})
        assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    assert (await bob.ok("GET", "/account/whoami"))["user_id"] == bob.user_id


# --- /account/password ---------------------------------------------------------------


async def test_password_change_requires_uia_then_logs_out_other_devices(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    other = (await _login(http, {"user": "alice", "password": "correct horse"})).json()
    first = await alice.request("POST", "/account/password", json={"new_password": "new pw"})
    assert first.status_code == 401
    challenge = first.json()
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    auth = {
        "type": "m.login.password",
        "session": challenge["session"],
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "correct horse",
    }
    assert (
        await alice.ok("POST", "/account/password", json={"new_password": "new pw", "auth": auth})
        == {}
    )
    assert (await _login(http, {"user": "alice", "password": "correct horse"})).status_code == 403
    assert (await _login(http, {"user": "alice", "password": "new pw"})).status_code == 200
    # This device stays logged in; the other one does not.
    assert (await alice.request("GET", "/account/whoami")).status_code == 200
    r = await http.get(
        f"{V3}/account/whoami", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert (r.status_code, r.json()["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_password_change_with_wrong_current_password_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    auth = {"type": "m.login.password", "user": "alice", "password": "wrong", "session": "s"}
    r = await alice.request("POST", "/account/password", json={"new_password": "x", "auth": auth})
    assert r.status_code == 401
    assert r.json()["errcode"] == "M_FORBIDDEN"
    assert (await _login(http, {"user": "alice", "password": "correct horse"})).status_code == 200


async def test_password_change_without_token_is_rejected(http: httpx.AsyncClient) -> None:
    r = await http.post(f"{V3}/account/password", json={"new_password": "x"})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")


# --- profile -------------------------------------------------------------------------


async def test_displayname_set_and_get(http: httpx.AsyncClient, alice: MatrixTestClient) -> None:
    path = f"/profile/{alice.user_id}/displayname"
    assert await alice.ok("GET", path) == {"displayname": "alice"}
    assert await alice.ok("PUT", path, json={"displayname": "Alice A."}) == {}
    r = await http.get(f"{V3}{path}")  # profiles are public
    assert r.json() == {"displayname": "Alice A."}
    assert (await http.get(f"{V3}/profile/{alice.user_id}")).json()["displayname"] == "Alice A."


async def test_displayname_for_another_user_is_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    r = await alice.request("PUT", f"/profile/{bob.user_id}/displayname", json={"displayname": "x"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert await bob.ok("GET", f"/profile/{bob.user_id}/displayname") == {"displayname": "bob"}


async def test_displayname_bad_input_and_missing_token(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    path = f"/profile/{alice.user_id}/displayname"
    r = await alice.request("PUT", path, json={"displayname": 42})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    r = await http.put(f"{V3}{path}", json={"displayname": "x"})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", path) == {"displayname": "alice"}
    r = await alice.request("GET", "/profile/@ghost:test.local")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")


# --- filters -------------------------------------------------------------------------


async def test_filter_create_and_get_round_trip(alice: MatrixTestClient) -> None:
    flt = {"room": {"timeline": {"limit": 5}}}
    created = await alice.ok("POST", f"/user/{alice.user_id}/filter", json=flt)
    assert isinstance(created["filter_id"], str)
    assert await alice.ok("GET", f"/user/{alice.user_id}/filter/{created['filter_id']}") == flt


async def test_filters_of_another_user_are_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    created = await alice.ok("POST", f"/user/{alice.user_id}/filter", json={})
    r = await bob.request("GET", f"/user/{alice.user_id}/filter/{created['filter_id']}")
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await bob.request("POST", f"/user/{alice.user_id}/filter", json={})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_filter_bad_input_and_unknown_id(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await alice.request("POST", f"/user/{alice.user_id}/filter", json=[1, 2])
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    r = await alice.request("GET", f"/user/{alice.user_id}/filter/999")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await http.post(f"{V3}/user/{alice.user_id}/filter", json={})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")


# --- account data --------------------------------------------------------------------


async def test_account_data_set_get_and_seen_in_sync(alice: MatrixTestClient) -> None:
    path = f"/user/{alice.user_id}/account_data/org.example.pref"
    r = await alice.request("GET", path)
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    assert await alice.ok("PUT", path, json={"theme": "dark"}) == {}
    assert await alice.ok("GET", path) == {"theme": "dark"}
    sync = await alice.sync()
    assert {"type": "org.example.pref", "content": {"theme": "dark"}} in sync["account_data"][
        "events"
    ]


async def test_room_account_data_set_and_get(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    path = f"/user/{alice.user_id}/rooms/{room}/account_data/m.tag.x"
    assert await alice.ok("PUT", path, json={"a": 1}) == {}
    assert await alice.ok("GET", path) == {"a": 1}


async def test_account_data_of_another_user_is_forbidden(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    path = f"/user/{alice.user_id}/account_data/org.example.pref"
    await alice.ok("PUT", path, json={"v": 1})
    r = await bob.request("PUT", path, json={"v": 2})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await bob.request("GET", path)
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert await alice.ok("GET", path) == {"v": 1}


async def test_account_data_bad_input_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    path = f"/user/{alice.user_id}/account_data/org.example.pref"
    await alice.ok("PUT", path, json={"v": 1})
    r = await alice.request("PUT", path, json="not an object")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    r = await alice.request("PUT", f"/user/{alice.user_id}/account_data/m.fully_read", json={})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    r = await http.put(f"{V3}{path}", json={"v": 3})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", path) == {"v": 1}


@pytest.mark.owasp_argon2
async def test_a_missing_account_costs_a_login_as_much_time_as_a_wrong_password(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    """Timing must not tell whether an account exists: both run argon2 (tens of ms, at
    the default cost: the suite's cheap one would drown the difference in noise).

    Measured as this process's CPU time (every thread: argon2 runs off the event loop), not
    wall time, so other processes on a busy machine do not make it flaky."""

    async def fastest(user: str) -> float:
        times = []
        for _ in range(2):  # four failures in all: below the login back-off's free five
            start = time.process_time()
            r = await _login(
                http, {"identifier": {"type": "m.id.user", "user": user}, "password": "wrong"}
            )
            times.append(time.process_time() - start)
            assert r.status_code == 403
            assert r.json()["error"] == "Invalid username or password"
        return min(times)

    missing, wrong = await fastest("nobody-here"), await fastest("alice")

    # Without the dummy check a missing account answered in about a tenth of the time.
    assert missing > wrong * 0.5
