"""Key backup endpoints over HTTP: versions, keys at three levels, the replacement rule, errors."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.helpers.matrix import V3, MatrixTestClient

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
AUTH_DATA: dict[str, object] = {
    "public_key": "abcdefg",
    "signatures": {"@alice:test.local": {"ed25519:DEV": "sig"}},
}
ROOM = "!room:test.local"
OTHER_ROOM = "!other:test.local"


def key_data(
    first_message_index: int = 0,
    forwarded_count: int = 0,
    is_verified: bool = False,
    mark: str = "a",
) -> dict[str, object]:
    return {
        "first_message_index": first_message_index,
        "forwarded_count": forwarded_count,
        "is_verified": is_verified,
        "session_data": {"ciphertext": mark, "ephemeral": "e", "mac": "m"},
    }


async def create_version(client: MatrixTestClient, auth_data: object = None) -> str:
    body = {"algorithm": ALGORITHM, "auth_data": AUTH_DATA if auth_data is None else auth_data}
    version: str = (await client.ok("POST", "/room_keys/version", json=body))["version"]
    return version


async def backup_state(client: MatrixTestClient, version: str) -> tuple[str, int]:
    """(etag, count) of a version, to assert a failed request changed nothing."""
    info = await client.ok("GET", f"/room_keys/version/{version}")
    return info["etag"], info["count"]


async def put_session(
    client: MatrixTestClient, version: str, session: str, data: dict[str, object]
) -> httpx.Response:
    return await client.request(
        "PUT", f"/room_keys/keys/{ROOM}/{session}", params={"version": version}, json=data
    )


async def get_session(client: MatrixTestClient, version: str, session: str) -> Any:
    return await client.ok("GET", f"/room_keys/keys/{ROOM}/{session}", params={"version": version})


def assert_error(r: httpx.Response, status: int, errcode: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["errcode"] == errcode, r.text


# --- versions ----------------------------------------------------------------------------


async def test_versions_are_numbered_per_user_from_one(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    assert await create_version(alice) == "1"
    assert await create_version(alice) == "2"
    assert await create_version(bob) == "1"


async def test_current_version_is_the_latest_with_its_data_count_and_etag(
    alice: MatrixTestClient,
) -> None:
    await create_version(alice)
    await create_version(alice, {"public_key": "second"})
    info = await alice.ok("GET", "/room_keys/version")
    assert info == {
        "algorithm": ALGORITHM,
        "auth_data": {"public_key": "second"},
        "count": 0,
        "etag": "0",
        "version": "2",
    }
    first = await alice.ok("GET", "/room_keys/version/1")
    assert first["version"] == "1"
    assert first["auth_data"] == AUTH_DATA


async def test_current_version_without_any_backup_is_not_found(alice: MatrixTestClient) -> None:
    r = await alice.request("GET", "/room_keys/version")
    assert_error(r, 404, "M_NOT_FOUND")
    assert r.json()["error"] == "No current backup version"


@pytest.mark.parametrize("version", ["2", "abc", "01", "1.0", "-1", "99999999999999999999"])
async def test_unknown_or_non_decimal_version_is_not_found(
    alice: MatrixTestClient, version: str
) -> None:
    await create_version(alice)
    assert_error(await alice.request("GET", f"/room_keys/version/{version}"), 404, "M_NOT_FOUND")


async def test_update_version_replaces_auth_data_only(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    body = {"algorithm": ALGORITHM, "auth_data": {"public_key": "new"}, "version": version}
    assert await alice.ok("PUT", f"/room_keys/version/{version}", json=body) == {}
    body.pop("version")
    assert await alice.ok("PUT", f"/room_keys/version/{version}", json=body) == {}
    info = await alice.ok("GET", f"/room_keys/version/{version}")
    assert info["auth_data"] == {"public_key": "new"}
    assert info["algorithm"] == ALGORITHM


@pytest.mark.parametrize(
    "body",
    [
        {"algorithm": "m.other", "auth_data": {"public_key": "new"}},
        {"algorithm": ALGORITHM, "auth_data": {"public_key": "new"}, "version": "2"},
    ],
    ids=["other-algorithm", "other-body-version"],
)
async def test_update_version_that_changes_more_than_auth_data_is_rejected_and_changes_nothing(
    alice: MatrixTestClient, body: dict[str, object]
) -> None:
    await create_version(alice)
    await create_version(alice)
    r = await alice.request("PUT", "/room_keys/version/1", json=body)
    assert_error(r, 400, "M_INVALID_PARAM")
    info = await alice.ok("GET", "/room_keys/version/1")
    assert info["algorithm"] == ALGORITHM
    assert info["auth_data"] == AUTH_DATA


async def test_update_unknown_or_deleted_version_is_not_found(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    await alice.ok("DELETE", f"/room_keys/version/{version}")
    body = {"algorithm": ALGORITHM, "auth_data": {}}
    for target in (version, "7", "x"):
        r = await alice.request("PUT", f"/room_keys/version/{target}", json=body)
        assert_error(r, 404, "M_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {"algorithm": 1, "auth_data": {}},
        {"algorithm": ALGORITHM, "auth_data": "not an object"},
        {"algorithm": ALGORITHM, "auth_data": ["list"]},
        {"algorithm": "", "auth_data": {}},
        {"algorithm": "a" * 256, "auth_data": {}},
        {"algorithm": "nul\x00", "auth_data": {}},
        {"auth_data": {}},
    ],
)
async def test_create_version_with_bad_body_is_rejected_and_creates_nothing(
    alice: MatrixTestClient, body: dict[str, object]
) -> None:
    r = await alice.request("POST", "/room_keys/version", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] in ("M_BAD_JSON", "M_MISSING_PARAM")
    assert_error(await alice.request("GET", "/room_keys/version"), 404, "M_NOT_FOUND")


async def test_delete_version_drops_it_and_its_keys_and_its_number_is_not_reused(
    alice: MatrixTestClient,
) -> None:
    await create_version(alice)
    await create_version(alice)
    await alice.ok("PUT", f"/room_keys/keys/{ROOM}/s1", params={"version": "2"}, json=key_data())
    assert await alice.ok("DELETE", "/room_keys/version/2") == {}
    assert_error(await alice.request("GET", "/room_keys/version/2"), 404, "M_NOT_FOUND")
    r = await alice.request("GET", "/room_keys/keys", params={"version": "2"})
    assert_error(r, 404, "M_NOT_FOUND")
    assert (await alice.ok("GET", "/room_keys/version"))["version"] == "1"
    assert await create_version(alice) == "3"
    assert (await alice.ok("GET", "/room_keys/version"))["version"] == "3"


async def test_delete_unknown_version_is_not_found(alice: MatrixTestClient) -> None:
    assert_error(await alice.request("DELETE", "/room_keys/version/1"), 404, "M_NOT_FOUND")
    version = await create_version(alice)
    await alice.ok("DELETE", f"/room_keys/version/{version}")
    r = await alice.request("DELETE", f"/room_keys/version/{version}")
    assert_error(r, 404, "M_NOT_FOUND")


async def test_concurrent_version_creation_hands_out_distinct_numbers(
    alice: MatrixTestClient,
) -> None:
    versions = await asyncio.gather(*(create_version(alice) for _ in range(5)))
    assert sorted(versions) == ["1", "2", "3", "4", "5"]


# --- keys: put and get -------------------------------------------------------------------


async def test_keys_put_at_each_level_are_read_back_at_each_level(
    alice: MatrixTestClient,
) -> None:
    version = await create_version(alice)
    params = {"version": version}
    r = await alice.ok(
        "PUT",
        "/room_keys/keys",
        params=params,
        json={
            "rooms": {
                ROOM: {"sessions": {"s1": key_data(mark="1")}},
                OTHER_ROOM: {"sessions": {"s2": key_data(mark="2")}},
            }
        },
    )
    assert r == {"etag": "1", "count": 2}
    r = await alice.ok(
        "PUT",
        f"/room_keys/keys/{ROOM}",
        params=params,
        json={"sessions": {"s3": key_data(mark="3")}},
    )
    assert r == {"etag": "2", "count": 3}
    r = await alice.ok("PUT", f"/room_keys/keys/{ROOM}/s4", params=params, json=key_data(mark="4"))
    assert r == {"etag": "3", "count": 4}

    everything = await alice.ok("GET", "/room_keys/keys", params=params)
    assert everything == {
        "rooms": {
            ROOM: {
                "sessions": {
                    "s1": key_data(mark="1"),
                    "s3": key_data(mark="3"),
                    "s4": key_data(mark="4"),
                }
            },
            OTHER_ROOM: {"sessions": {"s2": key_data(mark="2")}},
        }
    }
    room = await alice.ok("GET", f"/room_keys/keys/{OTHER_ROOM}", params=params)
    assert room == {"sessions": {"s2": key_data(mark="2")}}
    assert await get_session(alice, version, "s3") == key_data(mark="3")
    info = await alice.ok("GET", "/room_keys/version")
    assert (info["etag"], info["count"]) == ("3", 4)


async def test_session_data_is_returned_exactly_as_uploaded(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    data = key_data()
    data["session_data"] = {
        "z": [1, {"b": None, "a": True}],
        "unicode": "clé 🔑",
        "big": 9007199254740991,
        "nested": {"y": {"x": {}}},
    }
    await put_session(alice, version, "s1", data)
    assert await get_session(alice, version, "s1") == data


async def test_session_id_containing_a_slash_is_stored_and_found(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    r = await put_session(alice, version, "ab%2Fcd+ef", key_data())
    assert r.status_code == 200, r.text
    assert await get_session(alice, version, "ab%2Fcd+ef") == key_data()
    room = await alice.ok("GET", f"/room_keys/keys/{ROOM}", params={"version": version})
    assert list(room["sessions"]) == ["ab/cd+ef"]


async def test_room_without_keys_has_empty_sessions(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    room = await alice.ok("GET", f"/room_keys/keys/{ROOM}", params={"version": version})
    assert room == {"sessions": {}}
    assert await alice.ok("GET", "/room_keys/keys", params={"version": version}) == {"rooms": {}}


async def test_missing_session_is_not_found(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    r = await alice.request("GET", f"/room_keys/keys/{ROOM}/nope", params={"version": version})
    assert_error(r, 404, "M_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/room_keys/keys"),
        ("GET", f"/room_keys/keys/{ROOM}"),
        ("GET", f"/room_keys/keys/{ROOM}/s1"),
        ("DELETE", "/room_keys/keys"),
        ("DELETE", f"/room_keys/keys/{ROOM}"),
        ("DELETE", f"/room_keys/keys/{ROOM}/s1"),
    ],
)
async def test_reading_or_deleting_keys_of_an_unknown_version_is_not_found(
    alice: MatrixTestClient, method: str, path: str
) -> None:
    await create_version(alice)
    for version in ("2", "abc"):
        r = await alice.request(method, path, params={"version": version})
        assert_error(r, 404, "M_NOT_FOUND")


# --- the replacement rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "new", "replaced"),
    [
        (key_data(5, 1, True), key_data(0, 0, False), False),
        (key_data(0, 0, False), key_data(5, 5, True), True),
        (key_data(5, 0, False), key_data(4, 9, False), True),
        (key_data(5, 0, True), key_data(6, 0, True), False),
        (key_data(5, 3, False), key_data(5, 2, False), True),
        (key_data(5, 3, False), key_data(5, 4, False), False),
        (key_data(5, 3, True), key_data(5, 3, True), False),
    ],
    ids=[
        "verified-beats-unverified",
        "unverified-loses-to-verified",
        "lower-index-wins",
        "higher-index-loses",
        "fewer-forwards-win",
        "more-forwards-lose",
        "tie-keeps-existing",
    ],
)
async def test_uploading_a_session_again_keeps_the_better_copy(
    alice: MatrixTestClient,
    existing: dict[str, object],
    new: dict[str, object],
    replaced: bool,
) -> None:
    version = await create_version(alice)
    existing = {**existing, "session_data": {"copy": "existing"}}
    new = {**new, "session_data": {"copy": "new"}}
    await put_session(alice, version, "s1", existing)
    r = await alice.ok(
        "PUT",
        "/room_keys/keys",
        params={"version": version},
        json={"rooms": {ROOM: {"sessions": {"s1": new}}}},
    )
    assert await get_session(alice, version, "s1") == (new if replaced else existing)
    assert r == {"etag": "2" if replaced else "1", "count": 1}


# --- keys: writing to the wrong version --------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/room_keys/keys", {"rooms": {ROOM: {"sessions": {"s1": key_data()}}}}),
        (f"/room_keys/keys/{ROOM}", {"sessions": {"s1": key_data()}}),
        (f"/room_keys/keys/{ROOM}/s1", key_data()),
    ],
    ids=["all", "room", "session"],
)
async def test_writing_keys_to_an_old_version_is_forbidden_and_names_the_current_one(
    alice: MatrixTestClient, path: str, body: dict[str, object]
) -> None:
    await create_version(alice)
    await create_version(alice)
    r = await alice.request("PUT", path, params={"version": "1"}, json=body)
    assert_error(r, 403, "M_WRONG_ROOM_KEYS_VERSION")
    assert r.json()["current_version"] == "2"
    assert await backup_state(alice, "1") == ("0", 0)
    r = await alice.request("PUT", path, params={"version": "3"}, json=body)
    assert_error(r, 404, "M_NOT_FOUND")
    assert await backup_state(alice, "2") == ("0", 0)


async def test_writing_keys_after_the_current_version_was_deleted_targets_the_previous_one(
    alice: MatrixTestClient,
) -> None:
    await create_version(alice)
    await create_version(alice)
    await alice.ok("DELETE", "/room_keys/version/2")
    assert_error(await put_session(alice, "2", "s1", key_data()), 404, "M_NOT_FOUND")
    assert (await put_session(alice, "1", "s1", key_data())).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/room_keys/keys"),
        ("PUT", "/room_keys/keys"),
        ("DELETE", "/room_keys/keys"),
        ("GET", f"/room_keys/keys/{ROOM}"),
        ("PUT", f"/room_keys/keys/{ROOM}"),
        ("DELETE", f"/room_keys/keys/{ROOM}"),
        ("GET", f"/room_keys/keys/{ROOM}/s1"),
        ("PUT", f"/room_keys/keys/{ROOM}/s1"),
        ("DELETE", f"/room_keys/keys/{ROOM}/s1"),
    ],
)
async def test_keys_endpoints_without_version_are_missing_param(
    alice: MatrixTestClient, method: str, path: str
) -> None:
    await create_version(alice)
    bodies: dict[str, object] = {
        "/room_keys/keys": {"rooms": {}},
        f"/room_keys/keys/{ROOM}": {"sessions": {}},
        f"/room_keys/keys/{ROOM}/s1": key_data(),
    }
    body = bodies[path] if method == "PUT" else None
    r = await alice.request(method, path, json=body)
    assert_error(r, 400, "M_MISSING_PARAM")
    assert await backup_state(alice, "1") == ("0", 0)


# --- keys: bad input ---------------------------------------------------------------------


BAD_KEYS: list[object] = [
    {**key_data(), "first_message_index": "1"},
    {**key_data(), "first_message_index": 1.5},
    {**key_data(), "first_message_index": True},
    {**key_data(), "first_message_index": -1},
    {**key_data(), "first_message_index": 2**53},
    {**key_data(), "forwarded_count": "0"},
    {**key_data(), "forwarded_count": None},
    {**key_data(), "is_verified": "true"},
    {**key_data(), "is_verified": 1},
    {**key_data(), "session_data": "opaque"},
    {**key_data(), "session_data": ["a"]},
    {k: v for k, v in key_data().items() if k != "session_data"},
    "not an object",
]


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_bad_key_data_is_rejected_at_every_level_and_changes_nothing(
    alice: MatrixTestClient, bad: object
) -> None:
    version = await create_version(alice)
    await put_session(alice, version, "s1", key_data(3, 3))
    params = {"version": version}
    attempts: list[tuple[str, object]] = [
        (f"/room_keys/keys/{ROOM}/s1", bad),
        (f"/room_keys/keys/{ROOM}", {"sessions": {"s0": key_data(), "s1": bad}}),
        (
            "/room_keys/keys",
            {
                "rooms": {
                    OTHER_ROOM: {"sessions": {"s9": key_data()}},
                    ROOM: {"sessions": {"s1": bad}},
                }
            },
        ),
    ]
    for path, body in attempts:
        r = await alice.request("PUT", path, params=params, json=body)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["errcode"] in ("M_BAD_JSON", "M_MISSING_PARAM"), (path, r.text)
    assert await backup_state(alice, version) == ("1", 1)
    assert await get_session(alice, version, "s1") == key_data(3, 3)


@pytest.mark.parametrize(
    "body",
    [
        {"rooms": {"not-a-room": {"sessions": {"s1": key_data()}}}},
        {"rooms": {ROOM: {"sessions": {"s" * 256: key_data()}}}},
        {"rooms": {ROOM: {"sessions": {"": key_data()}}}},
        {"rooms": {ROOM: {"sessions": {"nul\x00": key_data()}}}},
        {"rooms": {ROOM: {"sessions": ["s1"]}}},
        {"rooms": {ROOM: {}}},
        {"rooms": []},
    ],
    ids=[
        "bad-room-id",
        "long-session-id",
        "empty-session-id",
        "nul-in-session-id",
        "sessions-list",
        "no-sessions",
        "rooms-list",
    ],
)
async def test_malformed_bulk_upload_is_bad_json_and_changes_nothing(
    alice: MatrixTestClient, body: dict[str, object]
) -> None:
    version = await create_version(alice)
    r = await alice.request("PUT", "/room_keys/keys", params={"version": version}, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] in ("M_BAD_JSON", "M_MISSING_PARAM"), r.text
    assert await backup_state(alice, version) == ("0", 0)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_malformed_room_id_in_path_is_invalid_param(
    alice: MatrixTestClient, method: str
) -> None:
    version = await create_version(alice)
    params = {"version": version}
    for path, body in (
        ("/room_keys/keys/not-a-room", {"sessions": {"s1": key_data()}}),
        ("/room_keys/keys/not-a-room/s1", key_data()),
    ):
        r = await alice.request(method, path, params=params, json=body if method == "PUT" else None)
        assert_error(r, 400, "M_INVALID_PARAM")
    assert await backup_state(alice, version) == ("0", 0)


async def test_overlong_or_nul_session_id_in_path_is_invalid_param(
    alice: MatrixTestClient,
) -> None:
    version = await create_version(alice)
    assert (await put_session(alice, version, "s" * 255, key_data())).status_code == 200
    assert_error(await put_session(alice, version, "s" * 256, key_data()), 400, "M_INVALID_PARAM")
    assert_error(await put_session(alice, version, "a%00b", key_data()), 400, "M_INVALID_PARAM")
    r = await alice.request("GET", f"/room_keys/keys/{ROOM}/a%00b", params={"version": version})
    assert_error(r, 400, "M_INVALID_PARAM")
    assert await backup_state(alice, version) == ("1", 1)


# --- keys: delete ------------------------------------------------------------------------


async def test_keys_are_deleted_per_session_room_and_version(alice: MatrixTestClient) -> None:
    version = await create_version(alice)
    params = {"version": version}
    body = {
        "rooms": {
            ROOM: {"sessions": {"s1": key_data(), "s2": key_data()}},
            OTHER_ROOM: {"sessions": {"s3": key_data(), "s4": key_data()}},
        }
    }
    assert await alice.ok("PUT", "/room_keys/keys", params=params, json=body) == {
        "etag": "1",
        "count": 4,
    }
    r = await alice.ok("DELETE", f"/room_keys/keys/{ROOM}/s1", params=params)
    assert r == {"etag": "2", "count": 3}
    r = await alice.ok("DELETE", f"/room_keys/keys/{ROOM}/s1", params=params)
    assert r == {"etag": "2", "count": 3}, "deleting nothing does not move the etag"
    assert_error(
        await alice.request("GET", f"/room_keys/keys/{ROOM}/s1", params=params), 404, "M_NOT_FOUND"
    )
    r = await alice.ok("DELETE", f"/room_keys/keys/{OTHER_ROOM}", params=params)
    assert r == {"etag": "3", "count": 1}
    assert await alice.ok("GET", "/room_keys/keys", params=params) == {
        "rooms": {ROOM: {"sessions": {"s2": key_data()}}}
    }
    r = await alice.ok("DELETE", "/room_keys/keys", params=params)
    assert r == {"etag": "4", "count": 0}
    assert await alice.ok("GET", "/room_keys/keys", params=params) == {"rooms": {}}


async def test_keys_of_an_old_version_may_still_be_read_and_deleted(
    alice: MatrixTestClient,
) -> None:
    await create_version(alice)
    await put_session(alice, "1", "s1", key_data())
    await create_version(alice)
    assert await get_session(alice, "1", "s1") == key_data()
    r = await alice.ok("DELETE", "/room_keys/keys", params={"version": "1"})
    assert r == {"etag": "2", "count": 0}


# --- access ------------------------------------------------------------------------------


async def test_another_user_cannot_see_or_change_alices_backup(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    version = await create_version(alice)
    await put_session(alice, version, "s1", key_data())
    assert_error(await bob.request("GET", "/room_keys/version"), 404, "M_NOT_FOUND")
    assert_error(await bob.request("GET", f"/room_keys/version/{version}"), 404, "M_NOT_FOUND")
    params = {"version": version}
    for method, path, body in (
        ("GET", "/room_keys/keys", None),
        ("GET", f"/room_keys/keys/{ROOM}/s1", None),
        ("PUT", f"/room_keys/keys/{ROOM}/s1", key_data(0, 0, True)),
        ("DELETE", "/room_keys/keys", None),
        ("PUT", f"/room_keys/version/{version}", {"algorithm": ALGORITHM, "auth_data": {}}),
        ("DELETE", f"/room_keys/version/{version}", None),
    ):
        r = await bob.request(method, path, params=params, json=body)
        assert_error(r, 404, "M_NOT_FOUND")
    assert await backup_state(alice, version) == ("1", 1)
    assert await get_session(alice, version, "s1") == key_data()
    assert (await alice.ok("GET", "/room_keys/version"))["auth_data"] == AUTH_DATA


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/room_keys/version"),
        ("GET", "/room_keys/version"),
        ("GET", "/room_keys/version/1"),
        ("PUT", "/room_keys/version/1"),
        ("DELETE", "/room_keys/version/1"),
        ("PUT", "/room_keys/keys?version=1"),
        ("GET", "/room_keys/keys?version=1"),
        ("DELETE", "/room_keys/keys?version=1"),
        ("GET", f"/room_keys/keys/{ROOM}?version=1"),
        ("GET", f"/room_keys/keys/{ROOM}/s1?version=1"),
    ],
)
async def test_requests_without_a_token_are_refused(
    http: httpx.AsyncClient, alice: MatrixTestClient, method: str, path: str
) -> None:
    await create_version(alice)
    body = {"algorithm": ALGORITHM, "auth_data": {}} if method in ("POST", "PUT") else None
    r = await http.request(method, f"{V3}{path}", json=body)
    assert_error(r, 401, "M_MISSING_TOKEN")
    r = await http.request(
        method, f"{V3}{path}", json=body, headers={"Authorization": "Bearer cdr_at_bogus"}
    )
    assert_error(r, 401, "M_UNKNOWN_TOKEN")
    assert await backup_state(alice, "1") == ("0", 0)
