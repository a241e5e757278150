"""POST /account/deactivate on both engines: the password first, then the account is
closed everywhere; with `erase`, nothing of the person's words, name, avatar or uploads
is served any more, while the transparency log keeps (and can still prove) its records."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from candor.config import Settings
from candor.store.models.accounts import AccessToken, AccountData, Device, UserSearchTerm
from candor.store.models.keys import CrossSigningKey, DeviceKeys, OneTimeKey, RoomKeyBackupVersion
from candor.store.models.push import Pusher
from candor.transparency.access import StoredRecord
from candor.transparency.checkpoint import open_checkpoint
from candor.transparency.merkle import leaf_hash, verify_inclusion
from candor.transparency.records import AccessAction, ActorKind
from tests.helpers.admin import ADMIN_API, AdminEnv, admin_env
from tests.helpers.e2ee import CrossSigning, FakeDevice, query_keys, upload_keys
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import download, png, upload

V3 = "/_matrix/client/v3"
PASSWORD = "correct horse"
SECRET = ("a secret about the garden", "meet me under the oak")
NAME = "Alice Liddell"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[AdminEnv]:
    async with admin_env(settings) as made:
        yield made


async def deactivate(who: MatrixTestClient, **body: Any) -> httpx.Response:
    return await who.request("POST", "/account/deactivate", json=body)


def password_auth(who: MatrixTestClient, password: str = PASSWORD) -> dict[str, Any]:
    return {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": who.user_id},
        "password": password,
    }


async def login(http: httpx.AsyncClient, user: str) -> httpx.Response:
    return await http.post(
        f"{V3}/login", json={"type": "m.login.password", "user": user, "password": PASSWORD}
    )


def holds_any(payload: object, words: tuple[str, ...]) -> list[str]:
    text = json.dumps(payload)
    return [w for w in words if w in text]


class Scene:
    """alice and bob in a public (unencrypted) room; alice has a name, an avatar, an
    upload, two messages, and an administrator has read the room (so records exist)."""

    def __init__(self, env: AdminEnv, room: str, said: list[str], media: list[str]) -> None:
        self.env, self.room, self.said, self.media = env, room, said, media


async def make_scene(env: AdminEnv) -> Scene:
    alice, bob = env.alice, env.bob
    avatar = await upload(alice, png(8, 8), "image/png")
    attachment = await upload(alice, b"my diary", "text/plain")
    await alice.ok("PUT", f"/profile/{alice.user_id}/displayname", json={"displayname": NAME})
    await alice.ok("PUT", f"/profile/{alice.user_id}/avatar_url", json={"avatar_url": avatar})
    room = await alice.create_room(preset="public_chat", name="garden club")
    await bob.join(room)
    said = [await alice.send(room, text) for text in SECRET]
    await bob.send(room, "bob's reply")
    read = await env.http.get(
        f"{ADMIN_API}/rooms/{room}/messages",
        params={"justification": "abuse report #7", "limit": 50},
        headers=env.admin.headers,
    )
    assert read.status_code == 200, read.text
    assert holds_any(read.json(), SECRET) == list(SECRET)
    return Scene(env, room, said, [avatar, attachment])


async def test_erase_serves_none_of_her_words_name_or_media_to_anyone(env: AdminEnv) -> None:
    scene = await make_scene(env)
    alice, bob = env.alice, env.bob
    before = (await bob.sync())["next_batch"]
    assert holds_any(await bob.messages(scene.room, dir="b"), (*SECRET, NAME))

    r = await deactivate(alice, auth=password_auth(alice), erase=True)

    assert r.status_code == 200, r.text
    assert r.json() == {"id_server_unbind_result": "no-support"}
    words = (*SECRET, NAME, *scene.media)
    assert holds_any(await bob.sync(), words) == []
    incremental = await bob.sync(before)
    assert holds_any(incremental, words) == []
    timeline = incremental["rooms"]["join"][scene.room]["timeline"]["events"]
    (leave,) = [e for e in timeline if e["type"] == "m.room.member"]
    assert leave["state_key"] == alice.user_id
    assert leave["content"]["membership"] == "leave"
    assert holds_any(await bob.messages(scene.room, dir="b", limit=50), words) == []
    for event_id in scene.said:
        event = await bob.ok("GET", f"/rooms/{scene.room}/event/{event_id}")
        assert event["content"] == {}
        assert event["unsigned"]["redacted_because"]["event_id"] == leave["event_id"]
    state = await bob.ok("GET", f"/rooms/{scene.room}/state")
    assert holds_any(state, words) == []
    admin_read = await env.http.get(
        f"{ADMIN_API}/rooms/{scene.room}/messages",
        params={"justification": "follow-up on report #7", "limit": 50},
        headers=env.admin.headers,
    )
    assert admin_read.status_code == 200, admin_read.text
    assert holds_any(admin_read.json(), words) == []
    users = await env.http.get(
        f"{ADMIN_API}/users",
        params={"justification": "follow-up on report #7"},
        headers=env.admin.headers,
    )
    assert users.status_code == 200, users.text
    assert holds_any(users.json(), (NAME,)) == []
    for mxc in scene.media:
        gone = await download(bob, mxc)
        assert gone.status_code == 404
        assert gone.json()["errcode"] == "M_NOT_FOUND"
    profile = await bob.request("GET", f"/profile/{alice.user_id}")
    assert profile.status_code == 404
    found = await bob.ok("POST", "/user_directory/search", json={"search_term": "alice"})
    assert found["results"] == []


async def test_after_deactivation_she_cannot_log_in_and_her_tokens_are_dead(
    env: AdminEnv,
) -> None:
    alice = env.alice
    second = await login(env.http, "alice")
    assert second.status_code == 200

    r = await deactivate(alice, auth=password_auth(alice))

    assert r.status_code == 200, r.text
    refused = await login(env.http, "alice")
    assert refused.status_code == 403
    assert refused.json()["errcode"] == "M_USER_DEACTIVATED"
    for token in (alice.token, second.json()["access_token"]):
        who = await env.http.get(
            f"{V3}/account/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert who.status_code == 401
        assert who.json()["errcode"] == "M_UNKNOWN_TOKEN"
    # The id stays taken: no one else becomes alice.
    taken = await env.http.get(f"{V3}/register/available", params={"username": "alice"})
    assert taken.status_code == 400
    assert taken.json()["errcode"] == "M_USER_IN_USE"


async def test_deactivation_without_erase_leaves_every_room_and_keeps_her_messages(
    env: AdminEnv,
) -> None:
    scene = await make_scene(env)
    alice, bob = env.alice, env.bob

    r = await deactivate(alice, auth=password_auth(alice), erase=False, id_server="id.example")

    assert r.status_code == 200, r.text
    assert r.json() == {"id_server_unbind_result": "no-support"}
    history = await bob.messages(scene.room, dir="b", limit=50)
    assert holds_any(history, SECRET) == list(SECRET)
    members = await bob.ok("GET", f"/rooms/{scene.room}/members")
    mine = [m for m in members["chunk"] if m["state_key"] == alice.user_id]
    assert mine[-1]["content"]["membership"] == "leave"
    assert all("redact_events" not in k for k in mine[-1]["content"])
    for mxc in scene.media:
        assert (await download(bob, mxc)).status_code == 200
    profile = await bob.request("GET", f"/profile/{alice.user_id}")
    assert profile.status_code == 404  # the profile goes with the account


@pytest.mark.parametrize(
    ("auth", "errcode"),
    [
        (None, None),
        ({"type": "m.login.password", "user": "alice", "password": "wrong"}, "M_FORBIDDEN"),
        ({"type": "m.login.password", "user": "bob", "password": PASSWORD}, "M_FORBIDDEN"),
        ({"type": "m.login.dummy"}, None),
    ],
)
async def test_without_her_password_nothing_changes(
    env: AdminEnv, auth: dict[str, Any] | None, errcode: str | None
) -> None:
    scene = await make_scene(env)
    alice, bob = env.alice, env.bob

    r = await deactivate(alice, auth=auth, erase=True)

    assert r.status_code == 401, r.text
    assert r.json()["flows"] == [{"stages": ["m.login.password"]}]
    assert r.json().get("errcode") == errcode
    await alice.ok("GET", "/account/whoami")
    assert holds_any(await bob.messages(scene.room, dir="b", limit=50), SECRET) == list(SECRET)
    assert (await bob.ok("GET", f"/profile/{alice.user_id}"))["displayname"] == NAME
    for mxc in scene.media:
        assert (await download(bob, mxc)).status_code == 200
    assert (await login(env.http, "alice")).status_code == 200
    kinds = {r.record["action"] for r in await env.hs.access.list_for_user(alice.user_id)}
    assert AccessAction.ACCOUNT_ERASED.value not in kinds


@pytest.mark.parametrize("body", [{"erase": "yes"}, {"erase": 1}, {"id_server": 5}])
async def test_a_malformed_body_is_refused_and_changes_nothing(
    env: AdminEnv, body: dict[str, Any]
) -> None:
    r = await deactivate(env.alice, auth=password_auth(env.alice), **body)

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"
    await env.alice.ok("GET", "/account/whoami")


async def test_no_token_is_refused(env: AdminEnv) -> None:
    r = await env.http.post(f"{V3}/account/deactivate", json={"erase": True})

    assert r.status_code == 401
    assert r.json()["errcode"] == "M_MISSING_TOKEN"


async def test_her_earlier_access_records_still_verify_and_the_erasure_is_recorded(
    env: AdminEnv,
) -> None:
    await make_scene(env)
    alice = env.alice
    before = await env.hs.access.list_for_user(alice.user_id)
    assert before, "the administrator's read was recorded"

    r = await deactivate(alice, auth=password_auth(alice), erase=True)
    assert r.status_code == 200, r.text
    await env.hs.transparency.make_checkpoint()

    after = await env.hs.access.list_for_user(alice.user_id)
    erasure = after[0]
    assert erasure.record["action"] == AccessAction.ACCOUNT_ERASED.value
    assert erasure.record["actor"] == {"kind": ActorKind.SYSTEM.value, "id": "test.local"}
    assert erasure.record["subjects"] == [alice.user_id]
    assert [(s.index, s.record_json) for s in after[1:]] == [
        (s.index, s.record_json) for s in before
    ]
    size, _, note = await env.hs.transparency.latest_tree_head()
    checkpoint = open_checkpoint(note, env.hs.transparency.signer.verifier())
    assert checkpoint.size == size
    for stored in after:
        assert await _proved(env, stored, checkpoint.size, checkpoint.root_hash)


async def _proved(env: AdminEnv, stored: StoredRecord, size: int, root: bytes) -> bool:
    (proof,) = await env.hs.tlog.inclusion_proofs([stored.index], size)
    return verify_inclusion(stored.index, size, leaf_hash(stored.leaf), proof, root)


async def test_every_device_token_key_backup_and_pusher_goes(env: AdminEnv) -> None:
    alice, bob = env.alice, env.bob
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    device = FakeDevice.of(alice)
    await upload_keys(
        alice, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(2)
    )
    signing = CrossSigning(alice.user_id).upload_body()
    assert await alice.ok("POST", "/keys/device_signing/upload", json=signing) == {}
    backup = {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": {"k": "v"}}
    await alice.ok("POST", "/room_keys/version", json=backup)
    assert await alice.ok("POST", "/pushers/set", json=PUSHER) == {}
    seen = await query_keys(bob, alice.user_id)
    assert seen["device_keys"][alice.user_id]
    assert seen["master_keys"][alice.user_id]

    r = await deactivate(alice, auth=password_auth(alice))

    assert r.status_code == 200, r.text
    seen = await query_keys(bob, alice.user_id)
    assert seen["device_keys"].get(alice.user_id, {}) == {}
    assert alice.user_id not in seen.get("master_keys", {})
    assert await _rows_of(env, alice.user_id) == {model.__tablename__: 0 for model in _PERSONAL}
    users = await env.http.get(
        f"{ADMIN_API}/users", params={"justification": "audit"}, headers=env.admin.headers
    )
    (listed,) = [u for u in users.json()["users"] if u["user_id"] == alice.user_id]
    assert listed["deactivated"] is True


PUSHER = {
    "kind": "http",
    "app_id": "org.example.app",
    "pushkey": "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8",
    "app_display_name": "Example",
    "device_display_name": "Alice's phone",
    "lang": "en",
    "data": {"url": "https://push.example.org/_matrix/push/v1/notify"},
}
_PERSONAL = (
    Device,
    AccessToken,
    DeviceKeys,
    OneTimeKey,
    CrossSigningKey,
    RoomKeyBackupVersion,
    Pusher,
    AccountData,
    UserSearchTerm,
)


async def _rows_of(env: AdminEnv, user_id: str) -> dict[str, int]:
    async with env.hs.db.read() as conn:
        return {
            model.__tablename__: (
                await conn.execute(
                    select(func.count()).select_from(model).where(model.user_id == user_id)
                )
            ).scalar_one()
            for model in _PERSONAL
        }
