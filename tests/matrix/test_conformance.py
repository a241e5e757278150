"""The client-server spec, operation by operation (issue 18).

One two-person scenario (alice and bob, with the administrator `root`) drives every
operation of `tests/data/matrix-spec/api/client-server/` that Candor serves; the `http`
client's hook validates each answer against the spec's own schemas as it arrives
(`tests/helpers/spec.py`). The test then accounts for all 164 operations: each one is
reached, and answered either by Candor (served) or with the precise refusal the spec names
(`REFUSED`, with its reason, also listed in docs/api.md); the few it cannot reach are in
`NOT_REACHED` with why. A new spec file or a new route that the scenario misses fails here.

The second test sends spec-invalid requests (bodies that break the operation's own request
schema) to every operation with a JSON body: each must get a 4xx Matrix error and change
nothing (every table's rows are the same before and after).
"""

import copy
import hashlib
import itertools
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select

from candor.config import Settings, SupportSettings, TurnSettings
from candor.matrix.context import Homeserver
from candor.store.models.base import Base
from tests.helpers.admin import AdminEnv, admin_env
from tests.helpers.e2ee import CrossSigning, FakeDevice, password_auth
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import png
from tests.helpers.spec import Operation, spec_index

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"
MEDIA_V3 = "/_matrix/media/v3"

Json = Any  # Any: a decoded JSON body
OpKey = tuple[str, str]

# Answered with the spec's own "not offered here" (404/405 M_UNRECOGNIZED or the 404 the
# operation names): counted as reached but not served.
REFUSED: Mapping[OpKey, str] = {
    ("GET", V1 + "/auth_metadata"): "the OAuth 2.0 API is not offered: the spec's 404 "
    "M_UNRECOGNIZED (Candor's own OAuth is for partners, not Matrix clients)",
    ("GET", "/.well-known/matrix/policy_server"): "no policy server: the spec's 404",
    ("GET", V3 + "/login/sso/redirect"): "no single sign-on: 404 M_UNRECOGNIZED "
    "(`GET /login` offers no m.login.sso)",
    ("GET", V3 + "/events"): "the pre-r0 event stream (deprecated): /sync replaced it",
    ("GET", V3 + "/initialSync"): "the pre-r0 global snapshot (deprecated): /sync replaced it",
}

# Served, but every answer is the spec's error for a feature Candor does not have: counted
# as served (the operation answers as the spec says), listed so the count stays honest.
_NO_3PIDS = "Candor keeps no e-mail addresses or phone numbers: 403 M_THREEPID_DENIED"
_NO_BRIDGES = "no protocol is bridged: the spec's 404 M_NOT_FOUND for each lookup"
_NO_APPSERVICES = "no application services: 403 M_FORBIDDEN for a user's token"
ANSWERED_WITH_AN_ERROR: Mapping[OpKey, str] = {
    ("GET", V3 + "/login/sso/redirect/{idpId}"): "no identity provider: the spec's 404",
    **{
        ("GET", V3 + path): _NO_BRIDGES
        for path in (
            "/thirdparty/location",
            "/thirdparty/location/{protocol}",
            "/thirdparty/protocol/{protocol}",
            "/thirdparty/user",
            "/thirdparty/user/{protocol}",
        )
    },
    ("POST", V1 + "/appservice/{appserviceId}/ping"): _NO_APPSERVICES,
    ("PUT", V3 + "/directory/list/appservice/{networkId}/{roomId}"): _NO_APPSERVICES,
    **{
        ("POST", V3 + path): _NO_3PIDS
        for path in (
            "/account/3pid",
            "/account/3pid/add",
            "/account/3pid/bind",
            "/account/3pid/email/requestToken",
            "/account/3pid/msisdn/requestToken",
            "/account/password/email/requestToken",
            "/account/password/msisdn/requestToken",
            "/register/email/requestToken",
            "/register/msisdn/requestToken",
        )
    },
}

# Operations the scenario does not reach, and why.
NOT_REACHED: Mapping[OpKey, str] = {}


def _op_key(op: Operation) -> OpKey:
    # inviting.yaml writes `/rooms/{roomId}/invite ` (a trailing space keeps it apart from
    # the third-party invite, which is the same HTTP operation).
    return (op.method, op.template.rstrip())


def all_operations() -> set[OpKey]:
    return {_op_key(op) for op in spec_index().operations}


@dataclass
class Recorder:
    """Makes each call and notes which spec operation it was and how it was answered."""

    http: httpx.AsyncClient
    served: set[OpKey] = field(default_factory=set)
    refused: set[OpKey] = field(default_factory=set)
    succeeded: set[OpKey] = field(default_factory=set)  # answered 2xx at least once
    _txn: Iterator[int] = field(default_factory=itertools.count)

    def txn(self) -> str:
        return f"c{next(self._txn)}"

    async def call(
        self,
        who: MatrixTestClient | None,
        method: str,
        path: str,
        *,
        expect: int | Collection[int] = 200,
        **kwargs: Any,  # Any: httpx.request's keyword arguments
    ) -> httpx.Response:
        headers = dict(who.headers) if who is not None else {}
        headers.update(kwargs.pop("headers", {}))
        r = await self.http.request(method, path, headers=headers, **kwargs)
        op = spec_index().find(method, r.request.url.raw_path)
        assert op is not None, f"{method} {path} is not an operation of the spec"
        assert r.status_code < 500, f"{method} {path}: {r.status_code} {r.text}"
        expected = {expect} if isinstance(expect, int) else set(expect)
        assert r.status_code in expected, f"{method} {path}: {r.status_code} {r.text}"
        body = _json(r)
        unrecognized = isinstance(body, dict) and body.get("errcode") == "M_UNRECOGNIZED"
        key = _op_key(op)
        if r.status_code in (404, 405) and (unrecognized or key in REFUSED):
            self.refused.add(key)
        else:
            self.served.add(key)
        if 200 <= r.status_code < 300:
            self.succeeded.add(key)
        return r

    async def ok(
        self,
        who: MatrixTestClient | None,
        method: str,
        path: str,
        **kwargs: Any,  # Any: httpx.request's keyword arguments
    ) -> Json:
        return _json(await self.call(who, method, path, **kwargs))


def _json(r: httpx.Response) -> Json:
    try:
        return r.json()
    except ValueError:
        return None


def _q(value: str) -> str:
    return quote(value, safe="")


async def _discovery_and_accounts(rec: Recorder, env: AdminEnv) -> None:
    alice = env.alice
    await rec.ok(None, "GET", "/_matrix/client/versions")
    await rec.ok(None, "GET", "/.well-known/matrix/client")
    await rec.ok(None, "GET", "/.well-known/matrix/support")
    await rec.call(None, "GET", "/.well-known/matrix/policy_server", expect=404)
    await rec.call(None, "GET", V1 + "/auth_metadata", expect=404)
    await rec.call(
        None, "GET", V3 + "/login/sso/redirect", expect=404, params={"redirectUrl": "http://x"}
    )
    await rec.call(
        None, "GET", V3 + "/login/sso/redirect/oidc", expect=404, params={"redirectUrl": "http://x"}
    )
    flows = await rec.ok(None, "GET", V3 + "/login")
    assert {"type": "m.login.password"} in flows["flows"]
    await rec.ok(None, "GET", V3 + "/register/available", params={"username": "dave"})
    dave = await rec.ok(
        None,
        "POST",
        V3 + "/register",
        json={"username": "dave", "password": "correct horse", "auth": {"type": "m.login.dummy"}},
    )
    assert dave["user_id"].startswith("@dave:")
    for kind in ("email", "msisdn"):
        body = {"client_secret": "s3cret", "send_attempt": 1, "email": "a@b.c"}
        if kind == "msisdn":
            body = {
                "client_secret": "s3cret",
                "send_attempt": 1,
                "country": "GB",
                "phone_number": "1",
            }
        await rec.call(None, "POST", f"{V3}/register/{kind}/requestToken", json=body, expect=403)
        await rec.call(
            None, "POST", f"{V3}/account/password/{kind}/requestToken", json=body, expect=403
        )
        await rec.call(
            alice, "POST", f"{V3}/account/3pid/{kind}/requestToken", json=body, expect=403
        )
    login = await rec.ok(
        None,
        "POST",
        V3 + "/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse",
            "device_id": "ALICE2",
        },
    )
    assert login["device_id"] == "ALICE2"
    who = await rec.ok(alice, "GET", V3 + "/account/whoami")
    assert who["user_id"] == alice.user_id
    caps = await rec.ok(alice, "GET", V3 + "/capabilities")
    assert "m.room_versions" in caps["capabilities"]
    await rec.ok(alice, "GET", V3 + "/account/3pid")
    threepid = {"client_secret": "s3cret", "sid": "1"}
    await rec.call(
        alice, "POST", V3 + "/account/3pid", json={"three_pid_creds": threepid}, expect=403
    )
    await rec.call(alice, "POST", V3 + "/account/3pid/add", json=threepid, expect=403)
    await rec.call(
        alice,
        "POST",
        V3 + "/account/3pid/bind",
        json={**threepid, "id_server": "id.example", "id_access_token": "t"},
        expect=403,
    )
    await rec.ok(alice, "GET", V3 + "/thirdparty/protocols")
    for path in ("/thirdparty/protocol/irc", "/thirdparty/location/irc", "/thirdparty/user/irc"):
        await rec.call(alice, "GET", V3 + path, expect=404)
    await rec.call(alice, "GET", V3 + "/thirdparty/location", params={"alias": "#a:b"}, expect=404)
    await rec.call(alice, "GET", V3 + "/thirdparty/user", params={"userid": "@a:b"}, expect=404)
    await rec.call(alice, "POST", V1 + "/appservice/irc/ping", json={}, expect=403)
    filt = await rec.ok(
        alice,
        "POST",
        f"{V3}/user/{_q(alice.user_id)}/filter",
        json={"room": {"timeline": {"limit": 10}}},
    )
    await rec.ok(alice, "GET", f"{V3}/user/{_q(alice.user_id)}/filter/{filt['filter_id']}")
    await rec.ok(
        alice, "PUT", f"{V3}/profile/{_q(alice.user_id)}/displayname", json={"displayname": "Alice"}
    )
    await rec.ok(alice, "GET", f"{V3}/profile/{_q(alice.user_id)}/displayname")
    await rec.ok(alice, "GET", f"{V3}/profile/{_q(alice.user_id)}")
    await rec.ok(
        alice, "PUT", f"{V3}/user/{_q(alice.user_id)}/account_data/org.example.x", json={"a": 1}
    )
    got = await rec.ok(alice, "GET", f"{V3}/user/{_q(alice.user_id)}/account_data/org.example.x")
    assert got == {"a": 1}
    await rec.ok(alice, "GET", V3 + "/voip/turnServer")
    await rec.ok(
        alice, "POST", V3 + "/user_directory/search", json={"search_term": "bo", "limit": 5}
    )


@dataclass
class Room:
    room_id: str
    event_id: str
    alias: str


async def _rooms(rec: Recorder, env: AdminEnv) -> Room:
    alice, bob, carol = env.alice, env.bob, env.carol
    created = await rec.ok(
        alice,
        "POST",
        V3 + "/createRoom",
        json={
            "preset": "public_chat",
            "name": "Conformance",
            "room_alias_name": "conf",
            "topic": "testing every operation",
        },
    )
    room = created["room_id"]
    alias = "#conf:" + alice.user_id.split(":", 1)[1]
    await rec.ok(bob, "POST", f"{V3}/join/{_q(alias)}", json={})
    await rec.ok(alice, "POST", f"{V3}/rooms/{room}/invite", json={"user_id": carol.user_id})
    await rec.ok(carol, "POST", f"{V3}/rooms/{room}/join", json={})
    sent = await rec.ok(
        alice,
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.message/{rec.txn()}",
        json={"msgtype": "m.text", "body": "hello bob, this is a conformance test"},
    )
    event_id = sent["event_id"]
    await _relations_and_history(rec, env, room, event_id)
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/event/{event_id}")
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/messages", params={"dir": "b", "limit": 5})
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/state")
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/state/m.room.name/")
    await rec.ok(
        alice, "PUT", f"{V3}/rooms/{room}/state/m.room.topic/", json={"topic": "still testing"}
    )
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/members")
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/joined_members")
    await rec.ok(bob, "GET", V3 + "/joined_rooms")
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/aliases")
    other_alias = "#conf2:" + alice.user_id.split(":", 1)[1]
    await rec.ok(alice, "PUT", f"{V3}/directory/room/{_q(other_alias)}", json={"room_id": room})
    await rec.ok(bob, "GET", f"{V3}/directory/room/{_q(other_alias)}")
    await rec.ok(alice, "DELETE", f"{V3}/directory/room/{_q(other_alias)}")
    await rec.ok(alice, "PUT", f"{V3}/directory/list/room/{room}", json={"visibility": "public"})
    await rec.ok(bob, "GET", f"{V3}/directory/list/room/{room}")
    await rec.ok(bob, "GET", V3 + "/publicRooms")
    await rec.ok(bob, "POST", V3 + "/publicRooms", json={"limit": 5, "filter": {}})
    await rec.call(
        alice,
        "PUT",
        f"{V3}/directory/list/appservice/irc/{room}",
        json={"visibility": "public"},
        expect=403,
    )
    await rec.ok(
        bob,
        "PUT",
        f"{V3}/rooms/{room}/typing/{_q(bob.user_id)}",
        json={"typing": True, "timeout": 3000},
    )
    await rec.ok(bob, "POST", f"{V3}/rooms/{room}/receipt/m.read/{event_id}", json={})
    await rec.ok(bob, "POST", f"{V3}/rooms/{room}/read_markers", json={"m.fully_read": event_id})
    await rec.ok(
        bob,
        "PUT",
        f"{V3}/user/{_q(bob.user_id)}/rooms/{room}/account_data/org.example.y",
        json={"b": 2},
    )
    await rec.ok(bob, "GET", f"{V3}/user/{_q(bob.user_id)}/rooms/{room}/account_data/org.example.y")
    await rec.ok(
        bob, "PUT", f"{V3}/user/{_q(bob.user_id)}/rooms/{room}/tags/u.work", json={"order": 0.5}
    )
    await rec.ok(bob, "GET", f"{V3}/user/{_q(bob.user_id)}/rooms/{room}/tags")
    await rec.ok(bob, "DELETE", f"{V3}/user/{_q(bob.user_id)}/rooms/{room}/tags/u.work")
    oops = await rec.ok(
        bob,
        "PUT",
        f"{V3}/rooms/{room}/send/m.room.message/{rec.txn()}",
        json={"msgtype": "m.text", "body": "oops"},
    )
    await rec.ok(bob, "PUT", f"{V3}/rooms/{room}/redact/{oops['event_id']}/{rec.txn()}", json={})
    await rec.ok(alice, "POST", f"{V3}/rooms/{room}/kick", json={"user_id": carol.user_id})
    await rec.ok(
        alice, "POST", f"{V3}/rooms/{room}/ban", json={"user_id": carol.user_id, "reason": "test"}
    )
    await rec.ok(alice, "POST", f"{V3}/rooms/{room}/unban", json={"user_id": carol.user_id})
    side = await alice.create_room(preset="private_chat")
    await rec.ok(alice, "POST", f"{V3}/rooms/{side}/leave", json={})
    await rec.ok(alice, "POST", f"{V3}/rooms/{side}/forget", json={})
    await rec.ok(
        alice,
        "PUT",
        f"{V3}/presence/{_q(alice.user_id)}/status",
        json={"presence": "online", "status_msg": "testing"},
    )
    seen = await rec.ok(bob, "GET", f"{V3}/presence/{_q(alice.user_id)}/status")
    assert seen["presence"] == "online"
    synced = await rec.ok(bob, "GET", V3 + "/sync", params={"timeout": 0})
    assert any(e["sender"] == alice.user_id for e in synced["presence"]["events"])
    assert room in synced["rooms"]["join"]
    await rec.ok(bob, "GET", V3 + "/sync", params={"timeout": 0, "since": synced["next_batch"]})
    return Room(room, event_id, alias)


async def _relations_and_history(rec: Recorder, env: AdminEnv, room: str, event_id: str) -> None:
    """A reaction, an edit and a thread reply to Alice's message, read back through
    /relations, /threads, the bundles, /context, timestamps, search and the older reads."""
    alice, bob = env.alice, env.bob
    send = f"{V3}/rooms/{room}/send"
    await rec.ok(
        bob,
        "PUT",
        f"{send}/m.reaction/{rec.txn()}",
        json={"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": "👍"}},
    )
    await rec.ok(
        alice,
        "PUT",
        f"{send}/m.room.message/{rec.txn()}",
        json={
            "msgtype": "m.text",
            "body": "* hello bob, this is a conformance run",
            "m.new_content": {"msgtype": "m.text", "body": "hello bob, this is a conformance run"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        },
    )
    await rec.ok(
        bob,
        "PUT",
        f"{send}/m.room.message/{rec.txn()}",
        json={
            "msgtype": "m.text",
            "body": "a threaded answer",
            "m.relates_to": {"rel_type": "m.thread", "event_id": event_id},
        },
    )
    rels = f"{V1}/rooms/{room}/relations/{event_id}"
    assert len((await rec.ok(bob, "GET", rels))["chunk"]) == 3
    assert len((await rec.ok(bob, "GET", rels + "/m.thread"))["chunk"]) == 1
    assert len((await rec.ok(bob, "GET", rels + "/m.annotation/m.reaction"))["chunk"]) == 1
    threads = await rec.ok(alice, "GET", f"{V1}/rooms/{room}/threads")
    assert [t["event_id"] for t in threads["chunk"]] == [event_id]
    bundled = (await rec.ok(bob, "GET", f"{V3}/rooms/{room}/event/{event_id}"))["unsigned"]
    assert set(bundled["m.relations"]) >= {"m.thread", "m.replace"}
    ctx = await rec.ok(bob, "GET", f"{V3}/rooms/{room}/context/{event_id}", params={"limit": 4})
    assert ctx["event"]["event_id"] == event_id
    found = await rec.ok(
        bob,
        "GET",
        f"{V1}/rooms/{room}/timestamp_to_event",
        params={"ts": ctx["event"]["origin_server_ts"], "dir": "f"},
    )
    assert found["event_id"] == event_id
    await rec.ok(bob, "GET", f"{V3}/events/{event_id}")
    await rec.ok(bob, "GET", f"{V3}/rooms/{room}/initialSync")
    await rec.call(bob, "GET", V3 + "/events", params={"timeout": 0}, expect=404)
    await rec.call(bob, "GET", V3 + "/initialSync", expect=404)
    hits = await rec.ok(
        bob,
        "POST",
        V3 + "/search",
        json={
            "search_categories": {
                "room_events": {"search_term": "conformance", "event_context": {"before_limit": 1}}
            }
        },
    )
    assert hits["search_categories"]["room_events"]["results"]


async def _tokens_and_profile(rec: Recorder, env: AdminEnv) -> None:
    """Refresh tokens, signing in another device, OpenID, profile fields, and the
    third-party and registration-token answers."""
    alice = env.alice
    me = _q(alice.user_id)
    login = await rec.ok(
        None,
        "POST",
        V3 + "/login",
        json={
            "type": "m.login.password",
            "user": "alice",
            "password": "correct horse",
            "refresh_token": True,
        },
    )
    refreshed = await rec.ok(
        None, "POST", V3 + "/refresh", json={"refresh_token": login["refresh_token"]}
    )
    assert refreshed["access_token"] != login["access_token"]
    first = await rec.call(alice, "POST", V1 + "/login/get_token", json={}, expect=401)
    token = await rec.ok(
        alice,
        "POST",
        V1 + "/login/get_token",
        json={"auth": password_auth(alice.user_id, first.json()["session"])},
    )
    await rec.ok(
        None, "POST", V3 + "/login", json={"type": "m.login.token", "token": token["login_token"]}
    )
    openid = await rec.ok(alice, "POST", f"{V3}/user/{me}/openid/request_token", json={})
    assert openid["token_type"] == "Bearer"
    await rec.ok(alice, "PUT", f"{V3}/profile/{me}/m.tz", json={"m.tz": "Europe/London"})
    assert (await rec.ok(alice, "GET", f"{V3}/profile/{me}/m.tz")) == {"m.tz": "Europe/London"}
    await rec.ok(alice, "DELETE", f"{V3}/profile/{me}/m.tz")
    await rec.ok(
        None, "GET", V1 + "/register/m.login.registration_token/validity", params={"token": "abc"}
    )
    for action in ("delete", "unbind"):
        await rec.ok(
            alice,
            "POST",
            f"{V3}/account/3pid/{action}",
            json={"medium": "email", "address": "a@b.c"},
        )


async def _encryption(rec: Recorder, env: AdminEnv) -> None:
    alice, bob = env.alice, env.bob
    device = FakeDevice.of(alice)
    await rec.ok(
        alice,
        "POST",
        V3 + "/keys/upload",
        json={"device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(2)},
    )
    await rec.ok(bob, "POST", V3 + "/keys/query", json={"device_keys": {alice.user_id: []}})
    await rec.ok(
        bob,
        "POST",
        V3 + "/keys/claim",
        json={"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}},
    )
    await rec.ok(alice, "GET", V3 + "/keys/changes", params={"from": "s0", "to": "s999999"})
    signing = CrossSigning(alice.user_id)
    first = await rec.call(
        alice,
        "POST",
        V3 + "/keys/device_signing/upload",
        json=signing.upload_body(),
        expect=(200, 401),
    )
    if first.status_code == 401:
        session = first.json()["session"]
        await rec.ok(
            alice,
            "POST",
            V3 + "/keys/device_signing/upload",
            json={**signing.upload_body(), "auth": password_auth(alice.user_id, session)},
        )
    signed = signing.sign_with(device.device_keys(), signing.self_signing)
    await rec.ok(
        alice,
        "POST",
        V3 + "/keys/signatures/upload",
        json={alice.user_id: {alice.device_id: signed}},
    )
    await rec.ok(
        alice,
        "PUT",
        f"{V3}/sendToDevice/m.room_key_request/{rec.txn()}",
        json={
            "messages": {
                bob.user_id: {
                    "*": {
                        "action": "request_cancellation",
                        "request_id": "r",
                        "requesting_device_id": alice.device_id,
                    }
                }
            }
        },
    )
    version = await rec.ok(
        alice,
        "POST",
        V3 + "/room_keys/version",
        json={
            "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
            "auth_data": {"public_key": device.curve25519},
        },
    )
    v = version["version"]
    await rec.ok(alice, "GET", V3 + "/room_keys/version")
    await rec.ok(alice, "GET", f"{V3}/room_keys/version/{v}")
    await rec.ok(
        alice,
        "PUT",
        f"{V3}/room_keys/version/{v}",
        json={
            "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
            "auth_data": {"public_key": device.curve25519},
            "version": v,
        },
    )
    session_data = {
        "first_message_index": 0,
        "forwarded_count": 0,
        "is_verified": True,
        "session_data": {"ephemeral": "e", "ciphertext": "c", "mac": "m"},
    }
    room = "!backup:example.org"
    await rec.ok(
        alice, "PUT", f"{V3}/room_keys/keys/{_q(room)}/s1", params={"version": v}, json=session_data
    )
    await rec.ok(
        alice,
        "PUT",
        f"{V3}/room_keys/keys/{_q(room)}",
        params={"version": v},
        json={"sessions": {"s2": session_data}},
    )
    await rec.ok(
        alice,
        "PUT",
        V3 + "/room_keys/keys",
        params={"version": v},
        json={"rooms": {room: {"sessions": {"s3": session_data}}}},
    )
    await rec.ok(alice, "GET", f"{V3}/room_keys/keys/{_q(room)}/s1", params={"version": v})
    await rec.ok(alice, "GET", f"{V3}/room_keys/keys/{_q(room)}", params={"version": v})
    await rec.ok(alice, "GET", V3 + "/room_keys/keys", params={"version": v})
    await rec.ok(alice, "DELETE", f"{V3}/room_keys/keys/{_q(room)}/s1", params={"version": v})
    await rec.ok(alice, "DELETE", f"{V3}/room_keys/keys/{_q(room)}", params={"version": v})
    await rec.ok(alice, "DELETE", V3 + "/room_keys/keys", params={"version": v})
    await rec.ok(alice, "DELETE", f"{V3}/room_keys/version/{v}")


async def _devices(rec: Recorder, env: AdminEnv) -> None:
    alice = env.alice
    await rec.ok(alice, "GET", V3 + "/devices")
    await rec.ok(alice, "GET", f"{V3}/devices/{alice.device_id}")
    await rec.ok(alice, "PUT", f"{V3}/devices/{alice.device_id}", json={"display_name": "Laptop"})
    for device_id, path, body in (
        ("GONE1", "/devices/GONE1", {}),
        ("GONE2", "/delete_devices", {"devices": ["GONE2"]}),
    ):
        await rec.ok(
            None,
            "POST",
            V3 + "/login",
            json={
                "type": "m.login.password",
                "user": "alice",
                "password": "correct horse",
                "device_id": device_id,
            },
        )
        method = "DELETE" if path.startswith("/devices/") else "POST"
        first = await rec.call(alice, method, V3 + path, json=body, expect=401)
        await rec.ok(
            alice,
            method,
            V3 + path,
            json={**body, "auth": password_auth(alice.user_id, first.json()["session"])},
        )


async def _push(rec: Recorder, env: AdminEnv, room: Room) -> None:
    bob = env.bob
    await rec.ok(bob, "GET", V3 + "/pushrules/")
    await rec.ok(bob, "GET", V3 + "/pushrules/global/")
    rule = f"{V3}/pushrules/global/room/{room.room_id}"
    await rec.ok(bob, "PUT", rule, json={"actions": ["notify"]})
    await rec.ok(bob, "GET", rule)
    await rec.ok(bob, "GET", rule + "/actions")
    await rec.ok(bob, "PUT", rule + "/actions", json={"actions": []})
    await rec.ok(bob, "GET", rule + "/enabled")
    await rec.ok(bob, "PUT", rule + "/enabled", json={"enabled": False})
    await rec.ok(bob, "DELETE", rule)
    await rec.ok(
        bob,
        "POST",
        V3 + "/pushers/set",
        json={
            "pushkey": "pk",
            "kind": "http",
            "app_id": "org.example.app",
            "app_display_name": "App",
            "device_display_name": "Phone",
            "lang": "en",
            "data": {"url": "https://push.example.org/_matrix/push/v1/notify"},
        },
    )
    await rec.ok(bob, "GET", V3 + "/pushers")
    await rec.ok(bob, "GET", V3 + "/notifications", params={"limit": 5})


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><head><title>A page</title></head><body>hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def web_page() -> Iterator[str]:
    """A page on 127.0.0.1 for URL previews to fetch (the operator allows loopback)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/page.html"
    finally:
        server.shutdown()
        server.server_close()


async def _media(rec: Recorder, env: AdminEnv, page_url: str) -> None:
    alice, bob = env.alice, env.bob
    image = png(8, 8)
    up = await rec.ok(
        alice,
        "POST",
        MEDIA_V3 + "/upload",
        content=image,
        headers={"Content-Type": "image/png"},
        params={"filename": "dot.png"},
    )
    server, media_id = up["content_uri"].removeprefix("mxc://").split("/", 1)
    created = await rec.ok(alice, "POST", "/_matrix/media/v1/create")
    later_server, later_id = created["content_uri"].removeprefix("mxc://").split("/", 1)
    await rec.ok(
        alice,
        "PUT",
        f"{MEDIA_V3}/upload/{later_server}/{later_id}",
        content=image,
        headers={"Content-Type": "image/png"},
    )
    await rec.ok(bob, "GET", MEDIA_V3 + "/config")
    await rec.ok(bob, "GET", V1 + "/media/config")
    for base in (MEDIA_V3, V1 + "/media"):
        await rec.call(bob, "GET", f"{base}/download/{server}/{media_id}", expect=(200, 404))
        await rec.call(
            bob, "GET", f"{base}/download/{server}/{media_id}/dot.png", expect=(200, 404)
        )
        await rec.call(
            bob,
            "GET",
            f"{base}/thumbnail/{server}/{media_id}",
            params={"width": 4, "height": 4, "method": "scale"},
            expect=(200, 404),
        )
        preview = await rec.ok(bob, "GET", f"{base}/preview_url", params={"url": page_url})
        assert preview["og:title"] == "A page"


async def _leave_last(rec: Recorder, env: AdminEnv) -> None:
    alice = env.alice
    first = await rec.call(
        alice,
        "POST",
        V3 + "/account/password",
        json={"new_password": "correct horse 2"},
        expect=401,
    )
    await rec.ok(
        alice,
        "POST",
        V3 + "/account/password",
        json={
            "new_password": "correct horse 2",
            "logout_devices": False,
            "auth": password_auth(alice.user_id, first.json()["session"]),
        },
    )
    other = await rec.ok(
        None,
        "POST",
        V3 + "/login",
        json={"type": "m.login.password", "user": "bob", "password": "correct horse"},
    )
    bob2 = MatrixTestClient(rec.http, other["user_id"], other["access_token"], other["device_id"])
    await rec.ok(bob2, "POST", V3 + "/logout", json={})
    await rec.ok(env.carol, "POST", V3 + "/logout/all", json={})
    erin = await rec.ok(
        None,
        "POST",
        V3 + "/register",
        json={"username": "erin", "password": "correct horse", "auth": {"type": "m.login.dummy"}},
    )
    leaving = MatrixTestClient(rec.http, erin["user_id"], erin["access_token"], erin["device_id"])
    first = await rec.call(
        leaving, "POST", V3 + "/account/deactivate", json={"erase": True}, expect=401
    )
    gone = await rec.ok(
        leaving,
        "POST",
        V3 + "/account/deactivate",
        json={"erase": True, "auth": password_auth(leaving.user_id, first.json()["session"])},
    )
    assert gone["id_server_unbind_result"] == "no-support"


async def _spaces_and_knocks(rec: Recorder, env: AdminEnv) -> None:
    """A space with a knock room in it: hierarchy, summary, knock, accept, mutual rooms,
    and the room's upgrade."""
    alice, bob = env.alice, env.bob
    server = alice.user_id.split(":", 1)[1]
    space_body = {"preset": "public_chat", "name": "Space", "creation_content": {"type": "m.space"}}
    space = (await rec.ok(alice, "POST", V3 + "/createRoom", json=space_body))["room_id"]
    child_body = {"preset": "private_chat", "name": "Knock here"}
    child = (await rec.ok(alice, "POST", V3 + "/createRoom", json=child_body))["room_id"]
    await rec.ok(
        alice, "PUT", f"{V3}/rooms/{space}/state/m.space.child/{child}", json={"via": [server]}
    )
    await rec.ok(
        alice, "PUT", f"{V3}/rooms/{child}/state/m.room.join_rules/", json={"join_rule": "knock"}
    )
    await rec.ok(bob, "GET", f"{V1}/rooms/{space}/hierarchy", params={"limit": 10})
    await rec.ok(bob, "GET", f"{V1}/room_summary/{child}")
    await rec.ok(bob, "POST", f"{V3}/knock/{child}", json={"reason": "may I?"})
    await rec.ok(alice, "POST", f"{V3}/rooms/{child}/invite", json={"user_id": bob.user_id})
    await rec.ok(bob, "POST", f"{V3}/rooms/{child}/join", json={})
    await rec.ok(alice, "GET", f"{V1}/mutual_rooms", params={"user_id": bob.user_id})
    await rec.ok(alice, "POST", f"{V3}/rooms/{child}/upgrade", json={"new_version": "10"})


async def _moderation(rec: Recorder, env: AdminEnv, room: Room) -> None:
    """Bob reports a message, the room and a person; the administrator locks and suspends
    Carol for a moment, and looks up Alice's sessions."""
    bob, admin, carol = env.bob, env.admin, env.carol
    await rec.ok(
        bob, "POST", f"{V3}/rooms/{room.room_id}/report/{room.event_id}", json={"reason": "spam"}
    )
    await rec.ok(bob, "POST", f"{V3}/rooms/{room.room_id}/report", json={"reason": "a spam room"})
    await rec.ok(bob, "POST", f"{V3}/users/{_q(env.alice.user_id)}/report", json={"reason": "spam"})
    for action, flag in (("lock", "locked"), ("suspend", "suspended")):
        path = f"{V1}/admin/{action}/{_q(carol.user_id)}"
        assert (await rec.ok(admin, "PUT", path, json={flag: True}))[flag] is True
        assert (await rec.ok(admin, "GET", path))[flag] is True
        await rec.ok(admin, "PUT", path, json={flag: False})
    await rec.ok(admin, "GET", f"{V3}/admin/whois/{_q(env.alice.user_id)}")
    caps = (await rec.ok(admin, "GET", V3 + "/capabilities"))["capabilities"]
    assert caps["m.account_moderation"] == {"lock": True, "suspend": True}
    caps = (await rec.ok(bob, "GET", V3 + "/capabilities"))["capabilities"]
    assert "m.account_moderation" not in caps


async def drive(rec: Recorder, env: AdminEnv) -> None:
    """Every served operation at least once, in an order a real pair of people could take."""
    await _discovery_and_accounts(rec, env)
    room = await _rooms(rec, env)
    await _spaces_and_knocks(rec, env)
    await _encryption(rec, env)
    await _tokens_and_profile(rec, env)
    await _devices(rec, env)
    await _push(rec, env, room)
    await _moderation(rec, env, room)
    with web_page() as page_url:
        await _media(rec, env, page_url)
    await _leave_last(rec, env)


async def test_every_operation_is_served_or_refused_as_the_spec_says(settings: Settings) -> None:
    # URL previews are off by default (the server would see every link): on, to reach them.
    # and the deprecated unauthenticated downloads are off by default too.
    media = settings.media.model_copy(
        update={
            "url_previews": True,
            "url_preview_allow_private_networks": True,
            "legacy_unauthenticated_downloads": True,
        }
    )
    # Presence is off by default too (it tells room-mates when one is online): on, likewise.
    presence = settings.presence.model_copy(update={"enabled": True})
    configured = settings.model_copy(
        update={
            "media": media,
            "presence": presence,
            "turn": TurnSettings(uris=["turn:turn.test.local:3478"], shared_secret="s3cret"),
            "support": SupportSettings(page="https://test.local/help"),
        }
    )
    async with admin_env(configured) as env:
        rec = Recorder(env.http)
        await drive(rec, env)
    ops = all_operations()
    assert len(ops) == 164
    reached = rec.served | rec.refused
    missed = ops - reached - set(NOT_REACHED)
    assert not missed, "operations the scenario does not reach:\n" + "\n".join(
        sorted(map(str, missed))
    )
    assert not (reached & set(NOT_REACHED)), "reached now: drop from NOT_REACHED"
    assert rec.refused == set(REFUSED), (
        f"refused but not listed: {sorted(rec.refused - set(REFUSED))}; "
        f"listed but served: {sorted(set(REFUSED) - rec.refused)}"
    )
    assert len(rec.served) == len(ops) - len(REFUSED) - len(NOT_REACHED)
    only_errors = rec.served - rec.succeeded
    assert only_errors == set(ANSWERED_WITH_AN_ERROR), (
        f"served with only an error, not listed: {sorted(only_errors - set(ANSWERED_WITH_AN_ERROR))}; "
        f"listed but succeeded: {sorted(set(ANSWERED_WITH_AN_ERROR) - only_errors)}"
    )
    # The target: at least 150 of the 164 served.
    assert len(rec.served) >= 150, f"{len(rec.served)} of {len(ops)} operations served"


# --- spec-invalid requests ----------------------------------------------------------------

# Tables a refused request may still touch, and why: none so far.
BOOKKEEPING_TABLES: Mapping[str, str] = {}


async def fingerprint(hs: Homeserver) -> dict[str, str]:
    """A digest of every table's rows: what "changes nothing" is checked against."""
    out: dict[str, str] = {}
    async with hs.db.read() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in BOOKKEEPING_TABLES:
                continue
            rows = sorted(repr(tuple(row)) for row in (await conn.execute(select(table))).all())
            out[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def _resolve(schema: Json, base: str) -> tuple[Json, str]:
    """Follows `$ref`s (and merges `allOf`) to the schema object itself."""
    resolver = spec_index().registry.resolver(base_uri=base)
    while isinstance(schema, dict) and "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        resolver = resolved.resolver
        schema = resolved.contents
    if isinstance(schema, dict) and "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            sub, _ = _resolve(part, str(resolver._base_uri))
            merged["properties"].update(sub.get("properties", {}))
            merged["required"].extend(sub.get("required", []))
            merged.setdefault("example", sub.get("example"))
        for key in ("example", "properties", "required"):
            if key in schema and key != "properties":
                merged[key] = schema[key]
        return merged, str(resolver._base_uri)
    return schema, str(resolver._base_uri)


def _request_schema(op: Operation) -> tuple[Json, Json] | None:
    """The operation's JSON request body schema (resolved) and its example, if any."""
    uri, pointer = op.source.split("#", 1)
    node = spec_index().documents[uri]
    for part in pointer.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    content = (node.get("requestBody") or {}).get("content", {}).get("application/json")
    if not content or "schema" not in content:
        return None
    schema, _ = _resolve(content["schema"], uri)
    example = content.get("example", schema.get("example") if isinstance(schema, dict) else None)
    if example is None and isinstance(content.get("examples"), dict):
        first: Json = next(iter(content["examples"].values()), {})
        example = first.get("value")
    return schema, example


_WRONG = {
    "string": 12345,
    "integer": "twelve",
    "number": "twelve",
    "boolean": "yes",
    "object": "not an object",
    "array": "not an array",
}


def invalid_bodies(schema: Json, example: Json) -> Iterator[tuple[str, Json]]:
    """Bodies the operation's schema forbids: each names how it breaks the schema."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return
    yield "a JSON array instead of an object", []
    if not isinstance(example, dict):
        return
    for name in schema.get("required", []):
        if name in example:
            broken = copy.deepcopy(example)
            del broken[name]
            yield f"without the required {name!r}", broken
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if name in example and isinstance(kind, str) and kind in _WRONG and "enum" not in prop:
            broken = copy.deepcopy(example)
            broken[name] = _WRONG[kind]
            yield f"{name!r} of the wrong type ({kind} expected)", broken


def _fill(template: str, values: Mapping[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", _q(value))
    assert "{" not in out, f"no value for a parameter of {template}"
    return out


async def test_spec_invalid_requests_get_a_matrix_error_and_change_nothing(
    settings: Settings,
) -> None:
    async with admin_env(settings) as env:
        alice, bob = env.alice, env.bob
        room = await alice.create_room(preset="public_chat", name="Invalid")
        await bob.join(room)
        event_id = await alice.send(room, "hello")
        values = {
            "roomId": room,
            "roomIdOrAlias": room,
            "eventId": event_id,
            "userId": alice.user_id,
            "roomAlias": "#nowhere:" + alice.user_id.split(":", 1)[1],
            "eventType": "m.room.topic",
            "stateKey": "",
            "txnId": "inv",
            "deviceId": alice.device_id,
            "kind": "override",
            "ruleId": "org.example.rule",
            "type": "org.example.x",
            "tag": "u.x",
            "receiptType": "m.read",
            "version": "1",
            "sessionId": "s1",
            "serverName": "test.local",
            "mediaId": "nothing",
            "keyName": "displayname",
            "networkId": "irc",
            "appserviceId": "irc",
            "filterId": "1",
            "relType": "m.thread",
            "threadId": event_id,
            "reason": "x",
        }
        failures: list[str] = []
        before = await fingerprint(env.hs)
        for op in spec_index().operations:
            schema = _request_schema(op)
            if schema is None:
                continue
            who = env.admin if "/admin/" in op.template else alice
            targets = (
                {**values, "userId": bob.user_id}
                if "/admin/" in op.template or "/users/" in op.template
                else values
            )
            path = _fill(op.template.rstrip(), targets)
            for how, body in invalid_bodies(*schema):
                r = await env.http.request(op.method, path, json=body, headers=who.headers)
                got = _json(r)
                is_error = isinstance(got, dict) and ("errcode" in got or "flows" in got)
                if not (400 <= r.status_code < 500 and is_error):
                    failures.append(
                        f"{op.method} {op.template} {how}: {r.status_code} {r.text[:200]}"
                    )
                after = await fingerprint(env.hs)
                changed = sorted(t for t in after if after[t] != before.get(t))
                if changed:
                    failures.append(f"{op.method} {op.template} {how}: changed {changed}")
                    before = after
    assert not failures, f"{len(failures)} spec-invalid requests:\n" + "\n".join(failures)


def invalid_queries(op: Operation) -> Iterator[tuple[str, dict[str, str]]]:
    """Query strings the operation's parameters forbid: a word for a number, a value
    outside an enum."""
    uri, pointer = op.source.split("#", 1)
    node = spec_index().documents[uri]
    for part in pointer.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    for param in node.get("parameters", []):
        if "$ref" in param:
            param, _ = _resolve(param, uri)
        if param.get("in") != "query":
            continue
        schema = param.get("schema", {})
        if "enum" in schema:
            yield f"{param['name']} outside its enum", {param["name"]: "bogus"}
        elif schema.get("type") == "integer":
            yield f"{param['name']} not an integer", {param["name"]: "twelve"}


async def test_spec_invalid_query_parameters_get_a_matrix_error(settings: Settings) -> None:
    async with admin_env(settings) as env:
        alice = env.alice
        room = await alice.create_room(preset="public_chat", name="Invalid")
        event_id = await alice.send(room, "hello")
        values = {
            "roomId": room,
            "roomIdOrAlias": room,
            "eventId": event_id,
            "userId": alice.user_id,
            "serverName": "test.local",
            "mediaId": "nothing",
            "fileName": "f",
            "version": "1",
            "roomId_": room,
            "sessionId": "s1",
            "relType": "m.thread",
            "eventType": "m.room.message",
            "keyName": "displayname",
            "deviceId": alice.device_id,
            "filterId": "1",
            "kind": "override",
            "ruleId": ".m.rule.master",
            "type": "org.example.x",
            "idpId": "x",
            "protocol": "irc",
            "roomAlias": "#a:test.local",
            "stateKey": "",
            "txnId": "t",
            "tag": "u.x",
            "receiptType": "m.read",
            "networkId": "irc",
            "appserviceId": "irc",
            "roomIdOrAlias_": room,
        }
        failures: list[str] = []
        before = await fingerprint(env.hs)
        for op in spec_index().operations:
            who = env.admin if "/admin/" in op.template else alice
            path = _fill(op.template.rstrip(), values)
            for how, params in invalid_queries(op):
                r = await env.http.request(op.method, path, params=params, headers=who.headers)
                got = _json(r)
                if not (400 <= r.status_code < 500 and isinstance(got, dict) and "errcode" in got):
                    failures.append(
                        f"{op.method} {op.template} {how}: {r.status_code} {r.text[:150]}"
                    )
        after = await fingerprint(env.hs)
        assert after == before
    assert not failures, f"{len(failures)} spec-invalid queries:\n" + "\n".join(failures)
