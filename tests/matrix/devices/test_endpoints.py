"""Device management over HTTP: /devices, /devices/{deviceId} and /delete_devices.

https://spec.matrix.org/v1.11/client-server-api/#device-management and docs/encryption.md
("Devices"): deleting a device needs the password (UIA), logs it out, deletes its keys and
tells the owner's room-mates through `device_lists.changed`.
"""

from typing import Any

import httpx

from tests.helpers.e2ee import (
    SIGNED_CURVE25519,
    CrossSigning,
    FakeDevice,
    claim_one,
    login,
    password_auth,
    query_keys,
    upload_keys,
)
from tests.helpers.matrix import V3, MatrixTestClient

PASSWORD_FLOWS = [{"stages": ["m.login.password"]}]


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _device_ids(user: MatrixTestClient) -> set[str]:
    devices: list[dict[str, Any]] = (await user.ok("GET", "/devices"))["devices"]
    return {d["device_id"] for d in devices}


async def _token_works(client: MatrixTestClient) -> bool:
    r = await client.request("GET", "/account/whoami")
    if r.status_code == 200:
        return True
    assert _err(r) == (401, "M_UNKNOWN_TOKEN")
    return False


# --- GET /devices --------------------------------------------------------------------


async def test_devices_lists_each_login_with_its_display_name(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    phone = await login(http, alice, device_id="PHONE", display_name="Alice's phone")
    devices = (await alice.ok("GET", "/devices"))["devices"]
    by_id = {d["device_id"]: d for d in devices}
    assert set(by_id) == {alice.device_id, "PHONE"}
    assert by_id["PHONE"]["display_name"] == "Alice's phone"
    assert phone.device_id == "PHONE"
    one = await alice.ok("GET", "/devices/PHONE")
    assert one["device_id"] == "PHONE"
    assert one["display_name"] == "Alice's phone"
    # Another user's devices are neither listed nor readable.
    assert await _device_ids(bob) == {bob.device_id}
    assert _err(await bob.request("GET", "/devices/PHONE")) == (404, "M_NOT_FOUND")


async def test_a_device_without_a_name_has_no_display_name_key(alice: MatrixTestClient) -> None:
    # Registered without `initial_device_display_name`: the spec says absent, not null.
    listed = (await alice.ok("GET", "/devices"))["devices"]
    assert [set(d) for d in listed] == [{"device_id", "last_seen_ts"}]
    assert "display_name" not in await alice.ok("GET", f"/devices/{alice.device_id}")


async def test_devices_need_a_token(http: httpx.AsyncClient) -> None:
    assert _err(await http.get(f"{V3}/devices")) == (401, "M_MISSING_TOKEN")
    r = await http.get(f"{V3}/devices", headers={"Authorization": "Bearer nope"})
    assert _err(r) == (401, "M_UNKNOWN_TOKEN")


async def test_login_with_a_known_device_id_reuses_the_device(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    first = await login(http, alice, device_id="TABLET")
    device = FakeDevice.of(first)
    await upload_keys(first, device_keys=device.device_keys())
    again = await login(http, alice, device_id="TABLET")
    assert again.device_id == "TABLET"
    assert await _device_ids(alice) == {alice.device_id, "TABLET"}
    assert (await again.ok("GET", "/account/whoami"))["device_id"] == "TABLET"


# --- PUT /devices/{deviceId} ---------------------------------------------------------


async def test_rename_device_changes_its_display_name(alice: MatrixTestClient) -> None:
    r = await alice.ok("PUT", f"/devices/{alice.device_id}", json={"display_name": "Work laptop"})
    assert r == {}
    got = await alice.ok("GET", f"/devices/{alice.device_id}")
    assert got["display_name"] == "Work laptop"


async def test_rename_unknown_or_foreign_device_is_not_found(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    r = await alice.request("PUT", "/devices/NOSUCHDEVICE", json={"display_name": "x"})
    assert _err(r) == (404, "M_NOT_FOUND")
    r = await alice.request("PUT", f"/devices/{bob.device_id}", json={"display_name": "mine"})
    assert _err(r) == (404, "M_NOT_FOUND")
    assert (await bob.ok("GET", f"/devices/{bob.device_id}")).get("display_name") != "mine"


async def test_rename_with_bad_body_is_rejected(alice: MatrixTestClient) -> None:
    before = await alice.ok("GET", f"/devices/{alice.device_id}")
    r = await alice.request("PUT", f"/devices/{alice.device_id}", json={"display_name": 5})
    assert _err(r) == (400, "M_BAD_JSON")
    assert await alice.ok("GET", f"/devices/{alice.device_id}") == before


# --- DELETE /devices/{deviceId} and POST /delete_devices -----------------------------


async def test_delete_device_needs_the_password_then_logs_it_out(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    phone = await login(http, alice, device_id="PHONE")

    r = await alice.request("DELETE", "/devices/PHONE")
    assert r.status_code == 401, r.text
    challenge = r.json()
    assert challenge["flows"] == PASSWORD_FLOWS
    session = challenge["session"]
    assert isinstance(session, str)
    assert session
    assert "PHONE" in await _device_ids(alice)

    wrong = {"auth": password_auth(alice.user_id, session, password="wrong")}
    r = await alice.request("DELETE", "/devices/PHONE", json=wrong)
    assert r.status_code == 401, r.text
    assert r.json()["errcode"] == "M_FORBIDDEN"
    assert r.json()["flows"] == PASSWORD_FLOWS
    assert "PHONE" in await _device_ids(alice)
    assert await _token_works(phone)

    right = {"auth": password_auth(alice.user_id, session)}
    assert await alice.ok("DELETE", "/devices/PHONE", json=right) == {}
    assert await _device_ids(alice) == {alice.device_id}
    assert not await _token_works(phone)
    assert await _token_works(alice)


async def test_delete_unknown_device_is_not_found(alice: MatrixTestClient) -> None:
    r = await alice.request(
        "DELETE", "/devices/NOSUCHDEVICE", json={"auth": password_auth(alice.user_id, None)}
    )
    assert _err(r) == (404, "M_NOT_FOUND")


async def test_delete_devices_needs_the_password_then_logs_them_all_out(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    phone = await login(http, alice, device_id="PHONE")
    tablet = await login(http, alice, device_id="TABLET")
    body: dict[str, object] = {"devices": ["PHONE", "TABLET"]}

    r = await alice.request("POST", "/delete_devices", json=body)
    assert r.status_code == 401, r.text
    challenge = r.json()
    assert challenge["flows"] == PASSWORD_FLOWS
    assert isinstance(challenge["session"], str)

    wrong = {**body, "auth": password_auth(alice.user_id, challenge["session"], "wrong")}
    r = await alice.request("POST", "/delete_devices", json=wrong)
    assert r.status_code == 401, r.text
    assert r.json()["errcode"] == "M_FORBIDDEN"
    # Someone else's password does not do either.
    other = {**body, "auth": password_auth(bob.user_id, challenge["session"])}
    r = await alice.request("POST", "/delete_devices", json=other)
    assert r.status_code == 401, r.text
    assert await _device_ids(alice) == {alice.device_id, "PHONE", "TABLET"}

    right = {**body, "auth": password_auth(alice.user_id, challenge["session"])}
    assert await alice.ok("POST", "/delete_devices", json=right) == {}
    assert await _device_ids(alice) == {alice.device_id}
    assert not await _token_works(phone)
    assert not await _token_works(tablet)
    assert await _token_works(bob)


async def test_delete_devices_rejects_bad_bodies(alice: MatrixTestClient) -> None:
    bodies: list[object] = [{}, {"devices": "PHONE"}, {"devices": [1]}]
    for body in bodies:
        r = await alice.request("POST", "/delete_devices", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errcode"] in {"M_BAD_JSON", "M_MISSING_PARAM"}, body
    assert await _device_ids(alice) == {alice.device_id}


async def test_deleting_a_device_removes_its_keys_and_tells_room_mates(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    phone = await login(http, alice, device_id="PHONE")
    device = FakeDevice.of(phone)
    await upload_keys(
        phone,
        device_keys=device.device_keys(),
        one_time_keys=device.one_time_keys(3),
        fallback_keys=device.fallback_keys(),
    )
    assert set((await query_keys(bob, alice.user_id))["device_keys"][alice.user_id]) == {"PHONE"}
    since = (await bob.sync())["next_batch"]

    body = {"devices": ["PHONE"], "auth": password_auth(alice.user_id, "s")}
    assert await alice.ok("POST", "/delete_devices", json=body) == {}

    assert (await query_keys(bob, alice.user_id))["device_keys"].get(alice.user_id, {}) == {}
    assert await claim_one(bob, alice.user_id, "PHONE") == {}
    sync = await bob.sync(since=since)
    assert alice.user_id in sync["device_lists"]["changed"]


async def test_logging_in_again_with_a_deleted_device_id_starts_without_keys(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    phone = await login(http, alice, device_id="PHONE")
    device = FakeDevice.of(phone)
    await upload_keys(
        phone, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(2)
    )
    body = {"devices": ["PHONE"], "auth": password_auth(alice.user_id, "s")}
    await alice.ok("POST", "/delete_devices", json=body)
    again = await login(http, alice, device_id="PHONE")
    assert await upload_keys(again) == {SIGNED_CURVE25519: 0}
    assert (await query_keys(bob, alice.user_id))["device_keys"].get(alice.user_id, {}) == {}


async def test_logout_deletes_the_device_and_its_keys_and_tells_room_mates(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    phone = await login(http, alice, device_id="PHONE")
    device = FakeDevice.of(phone)
    await upload_keys(
        phone, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(2)
    )
    since = (await bob.sync())["next_batch"]

    assert await phone.ok("POST", "/logout", json={}) == {}

    assert not await _token_works(phone)
    assert await _device_ids(alice) == {alice.device_id}
    assert (await query_keys(bob, alice.user_id))["device_keys"].get(alice.user_id, {}) == {}
    assert await claim_one(bob, alice.user_id, "PHONE") == {}
    assert alice.user_id in (await bob.sync(since=since))["device_lists"]["changed"]


async def test_deleting_a_device_drops_its_undelivered_to_device_messages(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await login(http, alice, device_id="PHONE")
    r = await bob.ok(
        "PUT",
        "/sendToDevice/m.room_key_request/t1",
        json={"messages": {alice.user_id: {"PHONE": {"secret": "for the phone"}}}},
    )
    assert r == {}
    body = {"devices": ["PHONE"], "auth": password_auth(alice.user_id, "s")}
    await alice.ok("POST", "/delete_devices", json=body)
    again = await login(http, alice, device_id="PHONE")
    assert (await again.sync())["to_device"]["events"] == []


async def test_deleting_a_device_drops_the_signatures_on_it(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    phone = await login(http, alice, device_id="PHONE")
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    old_keys = FakeDevice.of(phone).device_keys()
    await upload_keys(phone, device_keys=old_keys)
    signed = xs.sign_with(old_keys, xs.self_signing)
    r = await alice.ok("POST", "/keys/signatures/upload", json={alice.user_id: {"PHONE": signed}})
    assert r.get("failures", {}) == {}

    body = {"devices": ["PHONE"], "auth": password_auth(alice.user_id, "s")}
    await alice.ok("POST", "/delete_devices", json=body)
    again = await login(http, alice, device_id="PHONE")
    new_keys = FakeDevice.of(again).device_keys()
    await upload_keys(again, device_keys=new_keys)
    got = (await query_keys(bob, alice.user_id))["device_keys"][alice.user_id]["PHONE"]
    assert got["signatures"] == new_keys["signatures"]


async def test_deleting_ones_own_current_device_logs_the_caller_out(
    alice: MatrixTestClient,
) -> None:
    body = {"auth": password_auth(alice.user_id, "s")}
    assert await alice.ok("DELETE", f"/devices/{alice.device_id}", json=body) == {}
    assert not await _token_works(alice)
