"""Fuzz every route of the app with garbage: never a 5xx, and every 4xx is a Matrix error.

Routes are enumerated from the app's own OpenAPI document, so a new endpoint is fuzzed
without touching this file. Each route gets malformed JSON, JSON of the wrong types,
huge strings, odd path segments and odd query parameters, with and without a token.
"""

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from candor.app import create_app
from candor.config import RateLimitSettings, Settings, SyncSettings
from tests.helpers.matrix import MatrixTestClient

# Every route on SQLite; on PostgreSQL, which refuses inputs SQLite takes (a NUL in text
# was a 500 there, now refused at the edge: tests/test_body_guards.py), the regressions
# below and a smoke of the writes that put client text into the widest set of tables.
pytestmark = pytest.mark.engines("sqlite")
BOTH_ENGINES = pytest.mark.engines("sqlite", "postgresql")
POSTGRESQL_SMOKE = (
    ("PUT", "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}"),
    ("PUT", "/_matrix/client/v3/rooms/{room_id}/state/{event_type}/{state_key}"),
    ("POST", "/_matrix/client/v3/createRoom"),
    ("PUT", "/_matrix/client/v3/user/{user_id}/account_data/{data_type}"),
    ("POST", "/_matrix/client/v3/keys/upload"),
    ("PUT", "/_matrix/client/v3/sendToDevice/{event_type}/{txn_id}"),
    ("PUT", "/_matrix/client/v3/room_keys/keys/{room_id}/{session_id}"),
    ("POST", "/_candor/v1/rooms/{room_id}/grants"),
)

# 401 responses that carry a user-interactive-auth session instead of an errcode.
UIA_PATHS = (
    "/_matrix/client/v3/register",
    "/_matrix/client/v3/account/password",
    "/_matrix/client/v3/account/deactivate",
    "/_matrix/client/v3/delete_devices",
    "/_matrix/client/v3/devices/{device_id}",
    "/_matrix/client/v3/keys/device_signing/upload",
    "/_matrix/client/v1/login/get_token",
)
# Routes that are not part of the Matrix API (FastAPI's own docs, plain health check).
NOT_MATRIX = ("/_candor/", "/health", "/docs/", "/partner/", "/.well-known/")
# OAuth endpoints answer in RFC 6749 §5.2 form: {"error", "error_description"}.
OAUTH = ("/oauth/",)
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Examples per route; raise it (e.g. CANDOR_FUZZ_EXAMPLES=500) for a longer hunt.
FUZZ_EXAMPLES = int(os.environ.get("CANDOR_FUZZ_EXAMPLES", "25"))


def _operations() -> list[tuple[str, str, tuple[str, ...]]]:
    """(METHOD, path template, query parameter names) for every documented operation."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(
                data_dir=Path(tmp) / "data",
                database_url=f"sqlite:///{tmp}/enumerate.db",
                server_name="test.local",
            )
        )
        spec: dict[str, Any] = app.openapi()
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            query = tuple(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
            ops.append((method.upper(), path, query))
    return ops


OPERATIONS = _operations()

# Keys clients really send, so wrong-typed values reach the field validation.
FIELD_NAMES = (
    "username",
    "password",
    "auth",
    "type",
    "session",
    "identifier",
    "user",
    "medium",
    "address",
    "device_id",
    "initial_device_display_name",
    "inhibit_login",
    "refresh_token",
    "new_password",
    "logout_devices",
    "content",
    "membership",
    "user_id",
    "reason",
    "visibility",
    "preset",
    "invite",
    "name",
    "topic",
    "room_alias_name",
    "initial_state",
    "power_level_content_override",
    "creation_content",
    "is_direct",
    "room_version",
    "displayname",
    "avatar_url",
    "body",
    "msgtype",
    "m.fully_read",
    "m.read",
    "m.read.private",
    "timeout",
    "typing",
    "room",
    "timeline",
    "state",
    "limit",
    "types",
    "not_types",
    "senders",
    "rooms",
    "not_rooms",
    "event_fields",
    "event_format",
    "presence",
    "account_data",
    "include_leave",
    "lazy_load_members",
    "thread_id",
    "room_id",
    "state_key",
    "events",
    "users",
    "users_default",
    "join_rule",
    "history_visibility",
    "alias",
    "alt_aliases",
    "servers",
    "via",
    "third_party_signed",
    # people search, the room directory, push rules and pushers (issue 15)
    "search_term",
    "filter",
    "generic_search_term",
    "room_types",
    "include_all_networks",
    "third_party_instance_id",
    "since",
    "server",
    "actions",
    "conditions",
    "pattern",
    "kind",
    "key",
    "value",
    "is",
    "enabled",
    "pushkey",
    "app_id",
    "app_display_name",
    "device_display_name",
    "profile_tag",
    "lang",
    "data",
    "url",
    "format",
    "append",
    "order",
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "@alice:test.local", "!room:test.local", "#a:test.local", "$e"])
)
_json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _encode(value: object) -> bytes:
    return json.dumps(value).encode()


_bodies = st.one_of(
    # Not JSON at all, or truncated JSON.
    st.sampled_from(
        [
            b"",
            b"{",
            b"}",
            b"[",
            b"nul",
            b"{'a': 1}",
            b'{"a":}',
            b"\xff\xfe",
            b"\x00",
            b'{"a": NaN}',
            b'{"a": Infinity}',
            b"1e999999",
            b'"\\ud800"',
            b'{"a":1}{"b":2}',
        ]
    ),
    st.binary(max_size=40),
    # Valid JSON of the wrong top-level type.
    st.sampled_from([[], [1, 2], 0, -1, 1.5, "x", True, None]).map(_encode),
    # An object whose known fields have arbitrary (usually wrong) types.
    st.dictionaries(st.sampled_from(FIELD_NAMES), _json_values, max_size=6).map(_encode),
    _json_values.map(_encode),
    # Deep nesting, integers past 64 bits and huge strings.
    st.integers(min_value=50, max_value=3000).map(lambda n: ("[" * n + "]" * n).encode()),
    st.tuples(st.sampled_from(FIELD_NAMES), st.integers(min_value=200, max_value=900)).map(
        lambda kv: f'{{"{kv[0]}": {"[" * kv[1]}{"]" * kv[1]}}}'.encode()
    ),
    st.tuples(st.sampled_from(FIELD_NAMES), st.sampled_from([2**53, 2**64, -(2**63) - 1])).map(
        lambda kv: _encode({kv[0]: kv[1], "body": kv[1], "content": {"x": kv[1]}})
    ),
    st.tuples(st.sampled_from(FIELD_NAMES), st.sampled_from([10_000, 60_000, 70_000])).map(
        lambda kv: _encode({kv[0]: "x" * kv[1]})
    ),
)

_odd_segments = st.one_of(
    st.sampled_from(
        [
            "",
            "%00",
            "%ZZ",
            "%",
            "%2F",
            "..",
            ".",
            "~",
            " ",
            "x" * 3000,
            "@",
            "!",
            "#",
            "$",
            "@:",
            "!:",
            "@alice",
            "@ALICE:test.local",
            "@alice:test.local:99999999",
            "!nope:test.local",
            "#nope:test.local",
            "$nope",
            "m.room.member",
            "m.room.power_levels",
            "m.room.create",
            "m.fully_read",
            "m.read",
            "ban",
            "kick",
            "unban",
            "invite",
            "displayname",
            "avatar_url",
            "null",
            "-1",
            "99999999999999999999",
        ]
    ),
    st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe="")),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=10).map(
        lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")
    ),
)

_query_values = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e3",
            "true",
            "nope",
            "s0_0",
            "t0",
            "s99999999999999999999_0",
            "b",
            "f",
            "join",
            "{",
            '{"room":[]}',
            "[]",
            "x" * 5000,
            "\x00",
            "99999999999",
        ]
    ),
    st.text(max_size=20),
    _json_values.map(json.dumps),
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """As the shared fixture, but /sync never long-polls, whatever `timeout` says."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        rate_limit=RateLimitSettings(enabled=False),
        sync=SyncSettings(max_timeout_ms=0),
    )


def _assert_well_formed(response: httpx.Response, method: str, template: str) -> None:
    where = f"{method} {template} -> {response.request.url}: {response.status_code}"
    assert response.status_code < 500, f"{where} {response.text[:500]}"
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{where}: error body is not JSON: {response.text[:200]!r}")
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    if response.status_code == 401 and template in UIA_PATHS and "flows" in body:
        assert isinstance(body["flows"], list), where
        return
    assert isinstance(body.get("errcode"), str), f"{where}: {body!r}"
    assert body["errcode"].startswith("M_"), f"{where}: {body!r}"
    assert isinstance(body.get("error"), str), f"{where}: {body!r}"


@BOTH_ENGINES
def test_every_documented_route_is_fuzzed(database_url: str) -> None:
    methods_by_prefix = {(m, p) for m, p, _ in OPERATIONS}
    assert ("PUT", "/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}") in (
        methods_by_prefix
    )
    assert ("POST", "/_matrix/client/v3/register") in methods_by_prefix
    assert len(OPERATIONS) > 30
    assert set(POSTGRESQL_SMOKE) <= methods_by_prefix


@BOTH_ENGINES
async def test_served_openapi_lists_the_fuzzed_routes(http: httpx.AsyncClient) -> None:
    r = await http.get("/_candor/openapi.json")
    assert r.status_code == 200
    served = {
        (m.upper(), p) for p, item in r.json()["paths"].items() for m in item if m in HTTP_METHODS
    }
    assert served == {(m, p) for m, p, _ in OPERATIONS}


@pytest.fixture
async def room(alice: MatrixTestClient) -> tuple[str, str]:
    """A real room of alice's and an event in it, so fuzzed ids can hit existing rows."""
    room_id = await alice.create_room(name="fuzz")
    return room_id, await alice.send(room_id, "hello")


AUTH_HEADERS: dict[str, Mapping[str, str] | Mapping[bytes, bytes]] = {
    "none": {},
    "garbage": {"Authorization": "Bearer cdr_at_nope_aaaaaa"},
    "malformed": {"Authorization": "Bearerr"},
    "non-ascii": {b"Authorization": "Bearer cdr_at_\xe9t\xe9_\xa7".encode("latin-1")},
}


FUZZ_SETTINGS = hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


async def _survives_garbage(
    http: httpx.AsyncClient,
    alice: MatrixTestClient,
    room: tuple[str, str],
    op: tuple[str, str, tuple[str, ...]],
    data: st.DataObject,
) -> None:
    method, template, query_names = op
    real = st.sampled_from([alice.user_id, *room, "m.room.name", "m.room.message", ""])
    path = template
    for segment in template.split("/"):
        if segment.startswith("{"):
            value = data.draw(real.map(lambda s: quote(s, safe="")) | _odd_segments, segment)
            path = path.replace(segment, value, 1)
    names = (
        st.sampled_from(query_names) | st.text(max_size=8) if query_names else st.text(max_size=8)
    )
    query = data.draw(st.dictionaries(names, _query_values, max_size=4), "query")
    body = data.draw(st.none() | _bodies, "body")
    auth = data.draw(st.sampled_from(["alice", *AUTH_HEADERS]), "auth")
    headers = alice.headers if auth == "alice" else AUTH_HEADERS[auth]

    response = await http.request(method, path, params=query, content=body, headers=headers)

    if template.startswith(NOT_MATRIX):
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
    elif template.startswith(OAUTH):
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
        if response.status_code >= 400:
            assert isinstance(response.json().get("error"), str), response.text
    else:
        _assert_well_formed(response, method, template)


@pytest.mark.parametrize("op", [pytest.param(op, id=f"{op[0]} {op[1]}") for op in OPERATIONS])
@FUZZ_SETTINGS
@given(data=st.data())
async def test_route_survives_garbage(
    http: httpx.AsyncClient,
    alice: MatrixTestClient,
    room: tuple[str, str],
    op: tuple[str, str, tuple[str, ...]],
    data: st.DataObject,
) -> None:
    await _survives_garbage(http, alice, room, op, data)


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize(
    "op",
    [
        pytest.param(op, id=f"{op[0]} {op[1]}")
        for op in OPERATIONS
        if (op[0], op[1]) in POSTGRESQL_SMOKE
    ],
)
@FUZZ_SETTINGS
@given(data=st.data())
async def test_route_survives_garbage_on_postgresql(
    http: httpx.AsyncClient,
    alice: MatrixTestClient,
    room: tuple[str, str],
    op: tuple[str, str, tuple[str, ...]],
    data: st.DataObject,
) -> None:
    await _survives_garbage(http, alice, room, op, data)


# --- regressions found by the fuzzer -----------------------------------------------------


@BOTH_ENGINES
async def test_state_content_with_an_integer_past_64_bits_is_bad_json(
    alice: MatrixTestClient, room: tuple[str, str]
) -> None:
    r = await alice.request(
        "PUT", f"/rooms/{room[0]}/state/m.custom/", content=b'{"n": -9223372036854775809}'
    )
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"


@BOTH_ENGINES
async def test_message_content_nested_past_the_encoder_limit_is_bad_json(
    alice: MatrixTestClient, room: tuple[str, str]
) -> None:
    deep = b'{"body": ' + b"[" * 300 + b"]" * 300 + b"}"
    r = await alice.request("PUT", f"/rooms/{room[0]}/send/m.room.message/deep", content=deep)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"


@BOTH_ENGINES
async def test_access_token_with_non_ascii_characters_is_unknown_token(
    http: httpx.AsyncClient,
) -> None:
    r = await http.get(
        "/_matrix/client/v3/account/whoami",
        headers={b"Authorization": "Bearer cdr_at_\xe9t\xe9_\xa7".encode("latin-1")},
    )
    assert r.status_code == 401
    assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"
