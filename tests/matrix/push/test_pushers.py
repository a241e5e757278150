"""Pushers over HTTP on both engines: set, update, append, delete, the checks on the
gateway URL (the webhook guard: no loopback or private address without the operator's
setting), and a logged-out device's pushers going with it."""

from typing import Any

import httpx
import pytest

from tests.helpers.matrix import MatrixTestClient

GATEWAY = "https://push.example.org/_matrix/push/v1/notify"


def pusher(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "http",
        "app_id": "org.example.app.ios",
        "pushkey": "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8",
        "app_display_name": "Example",
        "device_display_name": "Alice's phone",
        "profile_tag": "xxyyzz",
        "lang": "en",
        "data": {"url": GATEWAY, "format": "event_id_only", "custom": {"k": 1}},
    }
    body.update(changes)
    return body


async def pushers(client: MatrixTestClient) -> list[Any]:
    found: list[Any] = (await client.ok("GET", "/pushers"))["pushers"]
    return found


async def test_a_pusher_is_set_listed_updated_and_deleted(alice: MatrixTestClient) -> None:
    assert await pushers(alice) == []
    assert await alice.ok("POST", "/pushers/set", json=pusher()) == {}
    expected = {k: v for k, v in pusher().items() if k != "append"}
    assert await pushers(alice) == [expected]

    await alice.ok("POST", "/pushers/set", json=pusher(device_display_name="New phone"))
    listed = await pushers(alice)
    assert [p["device_display_name"] for p in listed] == ["New phone"]

    await alice.ok("POST", "/pushers/set", json=pusher(pushkey="another"))
    assert len(await pushers(alice)) == 2
    deleted = {"kind": None, "app_id": "org.example.app.ios", "pushkey": "another"}
    assert await alice.ok("POST", "/pushers/set", json=deleted) == {}
    assert [p["pushkey"] for p in await pushers(alice)] == [pusher()["pushkey"]]
    # Deleting one that does not exist is no error.
    assert await alice.ok("POST", "/pushers/set", json=deleted) == {}


async def test_append_false_takes_the_pushkey_from_other_users(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await alice.ok("POST", "/pushers/set", json=pusher())
    await bob.ok("POST", "/pushers/set", json=pusher(append=True))
    assert len(await pushers(alice)) == 1
    await bob.ok("POST", "/pushers/set", json=pusher())
    assert await pushers(alice) == []
    assert len(await pushers(bob)) == 1


@pytest.mark.parametrize(
    ("changes", "errcode"),
    [
        ({"data": {"url": "http://push.example.org/_matrix/push/v1/notify"}}, "M_INVALID_PARAM"),
        ({"data": {"url": "https://127.0.0.1/_matrix/push/v1/notify"}}, "M_INVALID_PARAM"),
        ({"data": {"url": "https://10.1.2.3/_matrix/push/v1/notify"}}, "M_INVALID_PARAM"),
        ({"data": {"url": "https://localhost/_matrix/push/v1/notify"}}, "M_INVALID_PARAM"),
        ({"data": {"url": "https://push.example.org/notify"}}, "M_INVALID_PARAM"),
        ({"data": {"url": GATEWAY + "#x"}}, "M_INVALID_PARAM"),
        (
            {"data": {"url": "https://u:p@push.example.org/_matrix/push/v1/notify"}},
            "M_INVALID_PARAM",
        ),
        ({"data": {}}, "M_INVALID_PARAM"),
        ({"data": {"url": GATEWAY, "format": "full"}}, "M_INVALID_PARAM"),
        ({"data": {"url": GATEWAY, "blob": "x" * 5000}}, "M_INVALID_PARAM"),
        ({"kind": "email"}, "M_INVALID_PARAM"),
        ({"kind": "carrier-pigeon"}, "M_INVALID_PARAM"),
        ({"app_id": "a" * 65}, "M_INVALID_PARAM"),
        ({"app_id": ""}, "M_INVALID_PARAM"),
        ({"pushkey": "é" * 257}, "M_INVALID_PARAM"),
        ({"lang": None, "data": None}, "M_MISSING_PARAM"),
        ({"kind": 5}, "M_BAD_JSON"),
        ({"data": "https://push.example.org"}, "M_BAD_JSON"),
    ],
)
async def test_bad_pushers_are_refused_and_change_nothing(
    alice: MatrixTestClient, changes: dict[str, Any], errcode: str
) -> None:
    await alice.ok("POST", "/pushers/set", json=pusher(pushkey="kept"))
    before = await pushers(alice)
    body = {k: v for k, v in pusher(**changes).items() if v is not None}
    r = await alice.request("POST", "/pushers/set", json=body)
    assert (r.status_code, r.json()["errcode"]) == (400, errcode), r.text
    assert await pushers(alice) == before


async def test_missing_parameters_are_named(alice: MatrixTestClient) -> None:
    body = {k: v for k, v in pusher().items() if k not in ("lang", "data")}
    r = await alice.request("POST", "/pushers/set", json=body)
    assert r.json() == {"errcode": "M_MISSING_PARAM", "error": "Missing parameters: lang, data"}
    r = await alice.request("POST", "/pushers/set", json={"app_id": "a", "pushkey": "k"})
    assert r.status_code == 400  # `kind` is required, null or not


async def test_pushers_need_a_token(http: httpx.AsyncClient) -> None:
    r = await http.get("/_matrix/client/v3/pushers")
    assert r.status_code == 401


async def test_logging_out_removes_the_devices_pushers(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    login = await http.post(
        "/_matrix/client/v3/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse",
        },
    )
    phone = MatrixTestClient(
        http, alice.user_id, login.json()["access_token"], login.json()["device_id"]
    )
    await phone.ok("POST", "/pushers/set", json=pusher(pushkey="phone"))
    await alice.ok("POST", "/pushers/set", json=pusher(pushkey="laptop"))
    await phone.ok("POST", "/logout", json={})
    assert [p["pushkey"] for p in await pushers(alice)] == ["laptop"]
