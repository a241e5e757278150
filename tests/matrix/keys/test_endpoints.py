"""Key endpoints over HTTP: /keys/upload, query, claim, changes, device_signing, signatures.

The contract is docs/encryption.md, following
https://spec.matrix.org/v1.11/client-server-api/#end-to-end-encryption.
"""

from typing import Any

import httpx

from tests.helpers.e2ee import (
    SIGNED_CURVE25519,
    CrossSigning,
    FakeDevice,
    add_signature,
    claim_one,
    forged,
    login,
    password_auth,
    query_keys,
    upload_keys,
)
from tests.helpers.matrix import V3, MatrixTestClient


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _counts(client: MatrixTestClient) -> dict[str, int]:
    """The device's one-time key counts, read without uploading anything."""
    return await upload_keys(client)


async def _device_keys_of(viewer: MatrixTestClient, user_id: str) -> dict[str, Any]:
    got = await query_keys(viewer, user_id)
    device_keys = got["device_keys"]
    assert isinstance(device_keys, dict)
    found: dict[str, Any] = device_keys.get(user_id, {})
    return found


async def _rename(client: MatrixTestClient, name: str) -> None:
    await client.ok("PUT", f"/devices/{client.device_id}", json={"display_name": name})


async def _shared_room(alice: MatrixTestClient, bob: MatrixTestClient) -> str:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    return room


# --- /keys/upload --------------------------------------------------------------------


async def test_upload_device_and_one_time_keys_answers_counts(alice: MatrixTestClient) -> None:
    device = FakeDevice.of(alice)
    counts = await upload_keys(
        alice, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(5)
    )
    assert counts == {SIGNED_CURVE25519: 5}
    counts = await upload_keys(alice, one_time_keys=device.one_time_keys(3))
    assert counts == {SIGNED_CURVE25519: 8}
    assert await _counts(alice) == {SIGNED_CURVE25519: 8}
    assert (await alice.sync())["device_one_time_keys_count"] == {SIGNED_CURVE25519: 8}


async def test_upload_needs_a_token(http: httpx.AsyncClient) -> None:
    r = await http.post(f"{V3}/keys/upload", json={})
    assert _err(r) == (401, "M_MISSING_TOKEN")
    r = await http.post(f"{V3}/keys/upload", json={}, headers={"Authorization": "Bearer nope"})
    assert _err(r) == (401, "M_UNKNOWN_TOKEN")


async def test_upload_naming_another_user_or_device_is_invalid_param_and_stores_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    wrong_user = FakeDevice(bob.user_id, alice.device_id)
    wrong_device = FakeDevice(alice.user_id, "NOTMINE")
    for device in (wrong_user, wrong_device):
        r = await alice.request(
            "POST",
            "/keys/upload",
            json={
                "device_keys": device.device_keys(),
                "one_time_keys": FakeDevice.of(alice).one_time_keys(2),
            },
        )
        assert _err(r) == (400, "M_INVALID_PARAM"), device
    assert await _counts(alice) == {SIGNED_CURVE25519: 0}
    assert await _device_keys_of(bob, alice.user_id) == {}
    assert await _device_keys_of(bob, bob.user_id) == {}


async def test_upload_with_bad_self_signature_is_invalid_signature_and_stores_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    tampered = device.device_keys()
    tampered["algorithms"] = ["m.olm.v1.curve25519-aes-sha2"]  # signed over something else
    unsigned = device.device_keys()
    unsigned.pop("signatures")
    for keys in (forged(device.device_keys(), alice.user_id, device.key_id), tampered, unsigned):
        r = await alice.request(
            "POST",
            "/keys/upload",
            json={"device_keys": keys, "one_time_keys": device.one_time_keys(2)},
        )
        assert _err(r) == (400, "M_INVALID_SIGNATURE"), keys
    assert await _counts(alice) == {SIGNED_CURVE25519: 0}
    assert await _device_keys_of(bob, alice.user_id) == {}


async def test_upload_with_bad_one_time_key_signature_stores_none_of_the_batch(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    stranger = FakeDevice(alice.user_id, alice.device_id)  # same ids, other ed25519 key
    await upload_keys(alice, device_keys=device.device_keys())
    before = await _device_keys_of(bob, alice.user_id)
    batch = {**device.one_time_keys(3), **stranger.one_time_keys(1)}
    r = await alice.request("POST", "/keys/upload", json={"one_time_keys": batch})
    assert _err(r) == (400, "M_INVALID_SIGNATURE")
    # A fallback key signed by another key is refused the same way.
    r = await alice.request(
        "POST", "/keys/upload", json={"fallback_keys": stranger.fallback_keys()}
    )
    assert _err(r) == (400, "M_INVALID_SIGNATURE")
    assert await _counts(alice) == {SIGNED_CURVE25519: 0}
    sync = await alice.sync()
    assert sync["device_unused_fallback_key_types"] == []
    assert await _device_keys_of(bob, alice.user_id) == before


async def test_upload_bad_otk_with_device_keys_stores_not_even_the_device_keys(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    stranger = FakeDevice(alice.user_id, alice.device_id)
    r = await alice.request(
        "POST",
        "/keys/upload",
        json={"device_keys": device.device_keys(), "one_time_keys": stranger.one_time_keys(1)},
    )
    assert _err(r) == (400, "M_INVALID_SIGNATURE")
    assert await _device_keys_of(bob, alice.user_id) == {}
    assert await _counts(alice) == {SIGNED_CURVE25519: 0}


async def test_upload_malformed_bodies_are_rejected_and_store_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    no_keys = device.sign({"user_id": alice.user_id, "device_id": alice.device_id})
    bad_key_map = device.sign(
        {
            "user_id": alice.user_id,
            "device_id": alice.device_id,
            "algorithms": ["m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{alice.device_id}": 5},
        }
    )
    not_a_key = device.sign(
        {
            "user_id": alice.user_id,
            "device_id": alice.device_id,
            "algorithms": ["m.megolm.v1.aes-sha2"],
            "keys": {f"ed25519:{alice.device_id}": "not base64 !"},
        }
    )
    bad_algorithms = device.device_keys(algorithms="m.megolm.v1.aes-sha2")
    good_otk = next(iter(device.one_time_keys(1).values()))
    cases: list[tuple[object, set[str]]] = [
        ({"device_keys": "x"}, {"M_BAD_JSON"}),
        ({"device_keys": [1]}, {"M_BAD_JSON"}),
        ({"one_time_keys": ["signed_curve25519:A"]}, {"M_BAD_JSON"}),
        ({"fallback_keys": 7}, {"M_BAD_JSON"}),
        ([], {"M_BAD_JSON", "M_NOT_JSON"}),
        ({"device_keys": no_keys}, {"M_INVALID_PARAM"}),
        ({"device_keys": bad_key_map}, {"M_INVALID_PARAM"}),
        ({"device_keys": not_a_key}, {"M_INVALID_PARAM"}),
        ({"device_keys": bad_algorithms}, {"M_INVALID_PARAM"}),
        ({"one_time_keys": {"no-colon": good_otk}}, {"M_INVALID_PARAM", "M_BAD_JSON"}),
        ({"one_time_keys": {"signed_curve25519:A": 5}}, {"M_INVALID_PARAM", "M_BAD_JSON"}),
        ({"one_time_keys": {"signed_curve25519:A": {"no": "key"}}}, {"M_INVALID_PARAM"}),
    ]
    for body, codes in cases:
        r = await alice.request("POST", "/keys/upload", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errcode"] in codes, (body, r.text)
    r = await alice.request("POST", "/keys/upload", content=b"{not json")
    assert _err(r) == (400, "M_NOT_JSON")
    assert await _counts(alice) == {SIGNED_CURVE25519: 0}
    assert await _device_keys_of(bob, alice.user_id) == {}


async def test_upload_same_one_time_key_id_with_other_content_is_invalid_param(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    first = device.one_time_keys(2)
    await upload_keys(alice, device_keys=device.device_keys(), one_time_keys=first)
    key_id = next(iter(first))
    # The identical key again is harmless (a client retrying a lost response).
    assert await upload_keys(alice, one_time_keys={key_id: first[key_id]}) == {SIGNED_CURVE25519: 2}
    r = await alice.request(
        "POST",
        "/keys/upload",
        json={"one_time_keys": {key_id: device.one_time_key(), **device.one_time_keys(1)}},
    )
    assert _err(r) == (400, "M_INVALID_PARAM")
    assert await _counts(alice) == {SIGNED_CURVE25519: 2}
    claimed = [await claim_one(bob, alice.user_id, alice.device_id) for _ in range(2)]
    assert sorted(claimed, key=str) == sorted(({k: v} for k, v in first.items()), key=str)


# --- /keys/query ---------------------------------------------------------------------


async def test_query_returns_device_keys_exactly_as_uploaded_plus_display_name(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    await _rename(alice, "Alice's phone")
    # Fields Candor does not know, non-ASCII text and nesting must all come back as signed.
    uploaded = device.device_keys(**{"org.example.extra": {"b": [1, None, True], "a": "ünï €"}})
    await upload_keys(alice, device_keys=uploaded)
    got = await query_keys(bob, alice.user_id)
    assert got["device_keys"] == {
        alice.user_id: {
            alice.device_id: {**uploaded, "unsigned": {"device_display_name": "Alice's phone"}}
        }
    }
    assert got.get("failures", {}) == {}
    # The caller sees their own keys the same way.
    mine = await _device_keys_of(alice, alice.user_id)
    assert mine[alice.device_id]["signatures"] == uploaded["signatures"]


async def test_query_follows_a_rename_in_the_display_name(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    uploaded = device.device_keys()
    await upload_keys(alice, device_keys=uploaded)
    await _rename(alice, "Laptop")
    got = await _device_keys_of(bob, alice.user_id)
    assert got[alice.device_id] == {**uploaded, "unsigned": {"device_display_name": "Laptop"}}


async def test_query_by_device_list_and_unknown_users(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    second = await login(http, alice, device_id="SECOND")
    keys_1 = FakeDevice.of(alice).device_keys()
    keys_2 = FakeDevice.of(second).device_keys()
    await upload_keys(alice, device_keys=keys_1)
    await upload_keys(second, device_keys=keys_2)
    got = await bob.ok(
        "POST",
        "/keys/query",
        json={"device_keys": {alice.user_id: ["SECOND"], "@nobody:test.local": []}},
    )
    assert set(got["device_keys"][alice.user_id]) == {"SECOND"}
    assert "@nobody:test.local" not in got["device_keys"]
    assert set(await _device_keys_of(bob, alice.user_id)) == {alice.device_id, "SECOND"}


async def test_query_rejects_bad_bodies(alice: MatrixTestClient) -> None:
    bodies: list[dict[str, object]] = [
        {},
        {"device_keys": []},
        {"device_keys": {alice.user_id: "DEV"}},
    ]
    for body in bodies:
        r = await alice.request("POST", "/keys/query", json=body)
        assert r.status_code == 400, body
        assert r.json()["errcode"] in {"M_BAD_JSON", "M_MISSING_PARAM"}, body


async def test_query_serves_cross_signing_keys_user_signing_only_to_the_owner(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    xs = CrossSigning(alice.user_id)
    body = xs.upload_body()
    assert await alice.ok("POST", "/keys/device_signing/upload", json=body) == {}
    own = await query_keys(alice, alice.user_id)
    assert own["master_keys"] == {alice.user_id: body["master_key"]}
    assert own["self_signing_keys"] == {alice.user_id: body["self_signing_key"]}
    assert own["user_signing_keys"] == {alice.user_id: body["user_signing_key"]}
    theirs = await query_keys(bob, alice.user_id)
    assert theirs["master_keys"] == {alice.user_id: body["master_key"]}
    assert theirs["self_signing_keys"] == {alice.user_id: body["self_signing_key"]}
    assert alice.user_id not in theirs.get("user_signing_keys", {})


# --- /keys/claim ---------------------------------------------------------------------


async def test_claim_hands_out_distinct_keys_then_the_fallback_key(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(bob)
    otks = device.one_time_keys(3)
    fallback = device.fallback_keys()
    await upload_keys(bob, device_keys=device.device_keys(), one_time_keys=otks)
    await upload_keys(bob, fallback_keys=fallback)
    sync = await bob.sync()
    assert sync["device_one_time_keys_count"] == {SIGNED_CURVE25519: 3}
    assert sync["device_unused_fallback_key_types"] == [SIGNED_CURVE25519]

    r = await alice.ok(
        "POST",
        "/keys/claim",
        json={"one_time_keys": {bob.user_id: {bob.device_id: SIGNED_CURVE25519}}},
    )
    assert set(r) >= {"one_time_keys"}
    assert r.get("failures", {}) == {}
    first = r["one_time_keys"][bob.user_id][bob.device_id]
    claimed = [first] + [await claim_one(alice, bob.user_id, bob.device_id) for _ in range(2)]
    assert all(len(c) == 1 for c in claimed)
    assert {k: v for c in claimed for k, v in c.items()} == otks
    # Still one unused fallback key: counts drop, the fallback is untouched so far.
    sync = await bob.sync(since=sync["next_batch"])
    assert sync["device_one_time_keys_count"] == {SIGNED_CURVE25519: 0}
    assert sync["device_unused_fallback_key_types"] == [SIGNED_CURVE25519]
    # Then the fallback key, again and again: it stays until replaced.
    assert await claim_one(alice, bob.user_id, bob.device_id) == fallback
    assert await claim_one(alice, bob.user_id, bob.device_id) == fallback
    sync = await bob.sync(since=sync["next_batch"])
    assert sync["device_unused_fallback_key_types"] == []
    # A new fallback key is unused again and replaces the old one.
    fresh = device.fallback_keys()
    await upload_keys(bob, fallback_keys=fresh)
    sync = await bob.sync(since=sync["next_batch"])
    assert sync["device_unused_fallback_key_types"] == [SIGNED_CURVE25519]
    assert await claim_one(alice, bob.user_id, bob.device_id) == fresh


async def test_claim_for_unknown_users_and_devices_leaves_them_out(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(bob)
    otks = device.one_time_keys(1)
    await upload_keys(bob, device_keys=device.device_keys(), one_time_keys=otks)
    r = await alice.ok(
        "POST",
        "/keys/claim",
        json={
            "one_time_keys": {
                "@nobody:test.local": {"DEV": SIGNED_CURVE25519},
                bob.user_id: {"NOSUCHDEVICE": SIGNED_CURVE25519},
                alice.user_id: {alice.device_id: SIGNED_CURVE25519},  # has no keys
            }
        },
    )
    assert "@nobody:test.local" not in r["one_time_keys"]
    assert r["one_time_keys"].get(bob.user_id, {}) == {}
    assert r["one_time_keys"].get(alice.user_id, {}) == {}
    assert await _counts(bob) == {SIGNED_CURVE25519: 1}


async def test_claim_with_malformed_user_id_is_invalid_param_and_claims_nothing(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(bob)
    await upload_keys(bob, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(1))
    r = await alice.request(
        "POST",
        "/keys/claim",
        json={
            "one_time_keys": {
                "not-a-user-id": {"DEV": SIGNED_CURVE25519},
                bob.user_id: {bob.device_id: SIGNED_CURVE25519},
            }
        },
    )
    assert _err(r) == (400, "M_INVALID_PARAM")
    bodies: list[dict[str, object]] = [
        {},
        {"one_time_keys": []},
        {"one_time_keys": {bob.user_id: "DEV"}},
    ]
    for body in bodies:
        r = await alice.request("POST", "/keys/claim", json=body)
        assert r.status_code == 400, body
        assert r.json()["errcode"] in {"M_BAD_JSON", "M_MISSING_PARAM"}, body
    assert await _counts(bob) == {SIGNED_CURVE25519: 1}


# --- /keys/device_signing/upload -----------------------------------------------------


async def test_first_cross_signing_upload_needs_no_auth_replacing_the_master_key_does(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    first = CrossSigning(alice.user_id)
    assert await alice.ok("POST", "/keys/device_signing/upload", json=first.upload_body()) == {}
    # Uploading exactly the same keys again is no change, so no auth either.
    assert await alice.ok("POST", "/keys/device_signing/upload", json=first.upload_body()) == {}

    second = CrossSigning(alice.user_id)
    r = await alice.request("POST", "/keys/device_signing/upload", json=second.upload_body())
    assert r.status_code == 401, r.text
    challenge = r.json()
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    assert isinstance(challenge["session"], str)
    assert challenge["session"]
    got = await query_keys(bob, alice.user_id)
    assert got["master_keys"] == {alice.user_id: first.master_key()}

    wrong = {
        **second.upload_body(),
        "auth": password_auth(alice.user_id, challenge["session"], password="wrong"),
    }
    r = await alice.request("POST", "/keys/device_signing/upload", json=wrong)
    assert _err(r) == (401, "M_FORBIDDEN")
    assert (await query_keys(bob, alice.user_id))["master_keys"] == {
        alice.user_id: first.master_key()
    }

    body = {**second.upload_body(), "auth": password_auth(alice.user_id, challenge["session"])}
    assert await alice.ok("POST", "/keys/device_signing/upload", json=body) == {}
    got = await query_keys(bob, alice.user_id)
    assert got["master_keys"] == {alice.user_id: second.master_key()}
    assert got["self_signing_keys"] == {alice.user_id: second.self_signing_key()}


async def test_an_empty_upload_succeeds_before_setup_and_asks_for_the_password_after(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """Element uploads nothing to learn the UIA flows before it (re)sets cross-signing: a
    new account answers 200 (every field is optional, nothing to protect), an account with
    a master key gets the 401 with the password flow and, with the password, a no-op."""
    assert await alice.ok("POST", "/keys/device_signing/upload", json={}) == {}
    assert (await query_keys(bob, alice.user_id)).get("master_keys", {}) == {}

    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    r = await alice.request("POST", "/keys/device_signing/upload", json={})
    assert r.status_code == 401, r.text
    challenge = r.json()
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    assert "errcode" not in challenge  # no attempt has failed yet
    body = {"auth": password_auth(alice.user_id, challenge["session"])}
    assert await alice.ok("POST", "/keys/device_signing/upload", json=body) == {}
    got = await query_keys(bob, alice.user_id)
    assert got["master_keys"] == {alice.user_id: xs.master_key()}
    assert got["self_signing_keys"] == {alice.user_id: xs.self_signing_key()}


async def test_once_set_up_a_new_self_signing_key_alone_needs_the_password(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """The spec (v1.11) lets an upload skip UIA only when there is no master key yet or
    when it holds no new key; a new self-signing key decides which devices are trusted."""
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    rotated = CrossSigning(alice.user_id, master=xs.master)
    new_ssk = {"self_signing_key": rotated.self_signing_key()}
    r = await alice.request("POST", "/keys/device_signing/upload", json=new_ssk)
    assert r.status_code == 401, r.text
    assert r.json()["flows"] == [{"stages": ["m.login.password"]}]
    assert (await query_keys(bob, alice.user_id))["self_signing_keys"] == {
        alice.user_id: xs.self_signing_key()
    }
    # The stored keys again (a retry), with or without the master key: no auth needed.
    for retry in ({"self_signing_key": xs.self_signing_key()}, xs.upload_body()):
        assert await alice.ok("POST", "/keys/device_signing/upload", json=retry) == {}

    # Element, knowing the password flow, sends the password without a session.
    body = {**new_ssk, "auth": password_auth(alice.user_id, None)}
    assert await alice.ok("POST", "/keys/device_signing/upload", json=body) == {}
    got = await query_keys(bob, alice.user_id)
    assert got["master_keys"] == {alice.user_id: xs.master_key()}
    assert got["self_signing_keys"] == {alice.user_id: rotated.self_signing_key()}


async def test_cross_signing_upload_also_answers_at_the_unstable_path(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """matrix-js-sdk (Element) sends `uploadDeviceSigningKeys` to the pre-v3 path."""
    unstable = "/_matrix/client/unstable/keys/device_signing/upload"
    xs = CrossSigning(alice.user_id)
    r = await http.post(unstable, json=xs.upload_body(), headers=alice.headers)
    assert (r.status_code, r.json()) == (200, {})
    assert (await query_keys(bob, alice.user_id))["master_keys"] == {alice.user_id: xs.master_key()}
    r = await http.post(unstable, json={}, headers=alice.headers)
    assert r.status_code == 401
    assert r.json()["flows"] == [{"stages": ["m.login.password"]}]
    r = await http.post(unstable, json=xs.upload_body())
    assert _err(r) == (401, "M_MISSING_TOKEN")


async def test_cross_signing_keys_not_signed_by_the_master_key_are_refused(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    xs = CrossSigning(alice.user_id)
    stranger = CrossSigning(alice.user_id).master
    bad_ssk = {"master_key": xs.master_key(), "self_signing_key": xs.self_signing_key(stranger)}
    bad_usk = {"master_key": xs.master_key(), "user_signing_key": xs.user_signing_key(stranger)}
    unsigned_ssk = {
        "master_key": xs.master_key(),
        "self_signing_key": xs.unsigned_key("self_signing"),
    }
    for body in (bad_ssk, bad_usk, unsigned_ssk):
        r = await alice.request("POST", "/keys/device_signing/upload", json=body)
        assert _err(r) == (400, "M_INVALID_SIGNATURE"), body
    got = await query_keys(alice, alice.user_id)
    assert got.get("master_keys", {}) == {}
    assert got.get("self_signing_keys", {}) == {}
    assert got.get("user_signing_keys", {}) == {}
    # A self-signing key alone, signed by a key that is not the stored master key.
    assert (
        await alice.ok("POST", "/keys/device_signing/upload", json={"master_key": xs.master_key()})
        == {}
    )
    r = await alice.request(
        "POST",
        "/keys/device_signing/upload",
        json={"self_signing_key": xs.self_signing_key(stranger)},
    )
    assert _err(r) == (400, "M_INVALID_SIGNATURE")
    assert (await query_keys(bob, alice.user_id)).get("self_signing_keys", {}) == {}


async def test_cross_signing_key_of_another_user_is_rejected(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    r = await alice.request(
        "POST", "/keys/device_signing/upload", json=CrossSigning(bob.user_id).upload_body()
    )
    assert r.status_code == 400, r.text
    assert (await query_keys(alice, bob.user_id)).get("master_keys", {}) == {}


# --- /keys/signatures/upload ---------------------------------------------------------


async def test_self_signing_signature_of_own_device_is_served_in_query(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    uploaded = device.device_keys()
    await upload_keys(alice, device_keys=uploaded)
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())

    signed = xs.sign_with(uploaded, xs.self_signing)
    r = await alice.ok(
        "POST", "/keys/signatures/upload", json={alice.user_id: {alice.device_id: signed}}
    )
    assert r.get("failures", {}) == {}
    got = (await _device_keys_of(bob, alice.user_id))[alice.device_id]
    assert got["signatures"] == signed["signatures"]
    assert {k: v for k, v in got.items() if k not in ("signatures", "unsigned")} == {
        k: v for k, v in uploaded.items() if k != "signatures"
    }


async def test_device_signature_of_own_master_key_is_served_in_query(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    await upload_keys(alice, device_keys=device.device_keys())
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    signed_master = device.sign(xs.master_key())
    master_pub = CrossSigning.key_id(xs.master).split(":", 1)[1]
    r = await alice.ok(
        "POST", "/keys/signatures/upload", json={alice.user_id: {master_pub: signed_master}}
    )
    assert r.get("failures", {}) == {}
    got = await query_keys(bob, alice.user_id)
    assert got["master_keys"][alice.user_id]["signatures"] == signed_master["signatures"]


async def test_invalid_signature_upload_is_reported_in_failures_and_not_stored(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    device = FakeDevice.of(alice)
    uploaded = device.device_keys()
    await upload_keys(alice, device_keys=uploaded)
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())

    ssk_id = CrossSigning.key_id(xs.self_signing)
    bad = forged(xs.sign_with(uploaded, xs.self_signing), alice.user_id, ssk_id)
    r = await alice.ok(
        "POST", "/keys/signatures/upload", json={alice.user_id: {alice.device_id: bad}}
    )
    failure = r["failures"][alice.user_id][alice.device_id]
    assert isinstance(failure["errcode"], str)
    assert failure["errcode"].startswith("M_")
    got = (await _device_keys_of(bob, alice.user_id))[alice.device_id]
    assert got["signatures"] == uploaded["signatures"]


async def test_signature_upload_mixes_good_and_bad_ones(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    second = await login(http, alice, device_id="SECOND")
    keys_1 = FakeDevice.of(alice).device_keys()
    keys_2 = FakeDevice.of(second).device_keys()
    await upload_keys(alice, device_keys=keys_1)
    await upload_keys(second, device_keys=keys_2)
    xs = CrossSigning(alice.user_id)
    await alice.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    good = xs.sign_with(keys_1, xs.self_signing)
    bad = add_signature(
        keys_2,
        alice.user_id,
        CrossSigning.key_id(xs.self_signing),
        CrossSigning(alice.user_id).self_signing,
    )
    r = await alice.ok(
        "POST",
        "/keys/signatures/upload",
        json={alice.user_id: {alice.device_id: good, "SECOND": bad}},
    )
    assert set(r["failures"][alice.user_id]) == {"SECOND"}
    got = await _device_keys_of(bob, alice.user_id)
    assert got[alice.device_id]["signatures"] == good["signatures"]
    assert got["SECOND"]["signatures"] == keys_2["signatures"]


# --- /keys/changes and /sync device_lists --------------------------------------------


async def test_new_keys_show_up_as_changed_for_room_mates_only(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await _shared_room(alice, bob)
    alice_since = (await alice.sync())["next_batch"]
    carol_since = (await carol.sync())["next_batch"]

    await upload_keys(bob, device_keys=FakeDevice.of(bob).device_keys())

    alice_sync = await alice.sync(since=alice_since)
    assert bob.user_id in alice_sync["device_lists"]["changed"]
    assert bob.user_id not in alice_sync["device_lists"]["left"]
    carol_sync = await carol.sync(since=carol_since)
    assert bob.user_id not in carol_sync["device_lists"]["changed"]

    changes = await alice.ok(
        "GET", "/keys/changes", params={"from": alice_since, "to": alice_sync["next_batch"]}
    )
    assert bob.user_id in changes["changed"]
    assert changes["left"] == []
    changes = await carol.ok(
        "GET", "/keys/changes", params={"from": carol_since, "to": carol_sync["next_batch"]}
    )
    assert bob.user_id not in changes["changed"]

    # Nothing new: the next incremental sync does not repeat bob.
    again = await alice.sync(since=alice_sync["next_batch"])
    assert bob.user_id not in again["device_lists"]["changed"]


async def test_leaving_the_only_shared_room_puts_the_user_in_left(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    await upload_keys(bob, device_keys=FakeDevice.of(bob).device_keys())
    since = (await alice.sync())["next_batch"]
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    sync = await alice.sync(since=since)
    assert bob.user_id in sync["device_lists"]["left"]
    assert bob.user_id not in sync["device_lists"]["changed"]
    changes = await alice.ok(
        "GET", "/keys/changes", params={"from": since, "to": sync["next_batch"]}
    )
    assert bob.user_id in changes["left"]
    assert bob.user_id not in changes["changed"]


async def test_still_sharing_another_room_is_not_left(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    await _shared_room(alice, bob)
    since = (await alice.sync())["next_batch"]
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    sync = await alice.sync(since=since)
    assert bob.user_id not in sync["device_lists"]["left"]


async def test_starting_to_share_a_room_puts_the_user_in_changed(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await upload_keys(bob, device_keys=FakeDevice.of(bob).device_keys())
    room = await alice.create_room(preset="public_chat")
    since = (await alice.sync())["next_batch"]
    await bob.join(room)
    sync = await alice.sync(since=since)
    assert bob.user_id in sync["device_lists"]["changed"]


async def test_keys_changes_rejects_bad_tokens(alice: MatrixTestClient) -> None:
    since = (await alice.sync())["next_batch"]
    r = await alice.request("GET", "/keys/changes", params={"from": since})
    assert r.status_code == 400
    r = await alice.request("GET", "/keys/changes", params={"from": "garbage", "to": since})
    assert r.status_code == 400
    assert r.json()["errcode"] in {"M_INVALID_PARAM", "M_BAD_JSON"}


async def test_one_time_key_count_is_on_every_sync(alice: MatrixTestClient) -> None:
    initial = await alice.sync()
    assert initial["device_one_time_keys_count"].get(SIGNED_CURVE25519, 0) == 0
    assert initial["device_unused_fallback_key_types"] == []
    device = FakeDevice.of(alice)
    await upload_keys(
        alice, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(2)
    )
    since = initial["next_batch"]
    for _ in range(3):  # incremental syncs with and without news
        sync = await alice.sync(since=since)
        assert sync["device_one_time_keys_count"] == {SIGNED_CURVE25519: 2}
        since = sync["next_batch"]
    assert (await alice.sync())["device_one_time_keys_count"] == {SIGNED_CURVE25519: 2}


async def test_a_new_device_of_ones_own_shows_up_as_changed(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    since = (await alice.sync())["next_batch"]
    phone = await login(http, alice, device_id="PHONE")
    await upload_keys(phone, device_keys=FakeDevice.of(phone).device_keys())
    sync = await alice.sync(since=since)
    assert alice.user_id in sync["device_lists"]["changed"]


async def test_leaving_the_only_shared_room_oneself_puts_the_other_in_left(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(bob, alice)
    since = (await alice.sync())["next_batch"]
    await alice.ok("POST", f"/rooms/{room}/leave", json={})
    sync = await alice.sync(since=since)
    assert bob.user_id in sync["device_lists"]["left"]


async def test_new_cross_signing_keys_and_signatures_show_up_as_changed(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await _shared_room(alice, bob)
    device = FakeDevice.of(bob)
    keys = device.device_keys()
    await upload_keys(bob, device_keys=keys)
    since = (await alice.sync())["next_batch"]
    xs = CrossSigning(bob.user_id)
    await bob.ok("POST", "/keys/device_signing/upload", json=xs.upload_body())
    sync = await alice.sync(since=since)
    assert bob.user_id in sync["device_lists"]["changed"]

    since = sync["next_batch"]
    signed = xs.sign_with(keys, xs.self_signing)
    r = await bob.ok("POST", "/keys/signatures/upload", json={bob.user_id: {bob.device_id: signed}})
    assert r.get("failures", {}) == {}
    sync = await alice.sync(since=since)
    assert bob.user_id in sync["device_lists"]["changed"]
