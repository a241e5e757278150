"""The validator every in-process API test runs its answers through (`tests/helpers/spec.py`).

If it silently judged nothing (no operations found, a path that never matches, a hook that
is not installed), every API test would still pass; these tests make that impossible, and
check it against the spec's own examples.
"""

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.spec import (
    SEEN_LOG,
    SPEC_ROOT,
    JsonValue,
    check_response,
    spec_event_hooks,
    spec_index,
    validate_response,
)

V3 = "/_matrix/client/v3"


@pytest.fixture(autouse=True)
def _not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec's own examples are not answers Candor gave: keep them out of the tally."""
    monkeypatch.delenv(SEEN_LOG, raising=False)


def _refs(node: JsonValue) -> Iterator[str]:
    """Every `$ref` of a document, except inside example values (which point at
    `event-schemas/examples`, not copied: no schema uses them)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("example", "examples"):
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _has_ref(node: JsonValue) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    return isinstance(node, list) and any(_has_ref(v) for v in node)


def test_the_index_holds_every_client_server_operation() -> None:
    index = spec_index()
    assert len(index.operations) >= 150
    found = {
        ("GET", f"{V3}/sync"): "sync",
        ("POST", f"{V3}/login"): "login",
        ("POST", f"{V3}/register"): "register",
        ("POST", f"{V3}/keys/query"): "queryKeys",
        ("GET", "/_matrix/client/versions"): "getVersions",
        ("GET", "/.well-known/matrix/client"): "getWellknown",
        ("POST", "/_matrix/media/v3/upload"): "uploadContent",
        ("GET", "/_matrix/client/v1/media/config"): "getConfigAuthed",
        ("GET", f"{V3}/rooms/%21r%3Ahs/state/m.room.name/"): "getRoomStateWithKey",
        # No state key at all is the empty one.
        ("GET", f"{V3}/rooms/%21r%3Ahs/state/m.room.name"): "getRoomStateWithKey",
        ("PUT", f"{V3}/rooms/!r:hs/send/m.room.message/t1"): "sendMessage",
        # A literal segment beats a parameter: /devices/{deviceId} is not /delete_devices.
        ("POST", f"{V3}/delete_devices"): "deleteDevices",
        ("GET", f"{V3}/pushrules/global/override/.m.rule.master"): "getPushRule",
    }
    for (method, path), operation_id in found.items():
        op = index.find(method, path)
        assert op is not None, (method, path)
        assert op.operation_id == operation_id, (method, path, op.name)
    assert index.find("GET", "/_candor/v1/me") is None
    assert index.find("DELETE", f"{V3}/sync") is None


def test_every_ref_of_the_copied_tree_resolves() -> None:
    index = spec_index()
    refs = 0
    for uri, document in index.documents.items():
        resolver = index.registry.resolver(base_uri=uri)
        for ref in _refs(document):
            assert resolver.lookup(ref).contents is not None, (uri, ref)
            refs += 1
    assert refs > 500


def test_the_specs_own_examples_pass() -> None:
    """Every JSON response example of every operation validates (those that are not
    `$ref`s to example files): the validator reads the files as the spec means them."""
    index = spec_index()
    checked = 0
    for op in index.operations:
        operation = index.registry.resolver().lookup(op.source).contents
        for status, response in operation.get("responses", {}).items():
            content = (response.get("content") or {}).get("application/json") or {}
            for example in (content.get("examples") or {}).values():
                if "value" not in example or _has_ref(example["value"]):
                    continue
                validate_response(op.method, op.template, int(status), example["value"])
                checked += 1
    assert checked > 200


def test_a_known_good_answer_passes() -> None:
    body = {
        "user_id": "@alice:test.local",
        "access_token": "abc",
        "device_id": "GHTYAJCE",
        "well_known": {"m.homeserver": {"base_url": "https://test.local"}},
    }
    validate_response("POST", f"{V3}/login", 200, body)
    validate_response("GET", "/_matrix/client/versions", 200, {"versions": ["v1.11"]})


def test_a_missing_required_key_names_the_operation_and_the_path() -> None:
    sync = {"next_batch": "s1", "rooms": {"join": {"!r:hs": {"timeline": {"events": [{}]}}}}}
    with pytest.raises(AssertionError) as failed:
        validate_response("GET", f"{V3}/sync", 200, sync)
    message = str(failed.value)
    assert "GET /_matrix/client/v3/sync (sync.yaml sync)" in message
    assert "$.rooms.join['!r:hs'].timeline.events[0]: 'event_id' is a required property" in message
    with pytest.raises(AssertionError, match=r"at \$: 'user_id' is a required property"):
        validate_response("POST", f"{V3}/login", 200, {"access_token": "a", "device_id": "D"})


def test_a_wrong_type_and_a_bad_format_fail() -> None:
    with pytest.raises(AssertionError, match=r"\$.device_id: 1 is not of type 'string'"):
        validate_response("GET", f"{V3}/account/whoami", 200, {"user_id": "@a:hs", "device_id": 1})
    # The spec's mx-user-id format: a user id starts with @.
    with pytest.raises(AssertionError, match=r"\$.user_id: 'alice' is not a 'mx-user-id'"):
        validate_response("GET", f"{V3}/account/whoami", 200, {"user_id": "alice"})
    bad_key = {"one_time_key_counts": {"signed_curve25519": "3"}}
    with pytest.raises(AssertionError, match="is not of type 'integer'"):
        validate_response("POST", f"{V3}/keys/upload", 200, bad_key)


def test_errors_are_the_standard_error_object() -> None:
    # Listed by the operation (404 of a room alias), or not (any 401, a 500).
    validate_response("GET", f"{V3}/directory/room/%23a%3Ahs", 404, {"errcode": "M_NOT_FOUND"})
    validate_response("GET", f"{V3}/sync", 401, {"errcode": "M_MISSING_TOKEN", "error": "x"})
    with pytest.raises(AssertionError, match="'errcode' is a required property"):
        validate_response("GET", f"{V3}/directory/room/%23a%3Ahs", 404, {"error": "none"})
    with pytest.raises(AssertionError, match=r"(?s)not in the spec .*'errcode' is a required"):
        validate_response("GET", "/_matrix/client/v3/no/such/thing", 404, {})
    # A 429 carries the rate-limit schema's retry_after_ms as an integer, listed or not.
    limited = {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": "soon"}
    for path in (f"{V3}/login", f"{V3}/createRoom"):
        with pytest.raises(AssertionError, match=r"\$.retry_after_ms: 'soon' is not of type"):
            validate_response("POST", path, 429, limited)


def test_a_uia_answer_is_judged_as_one_wherever_it_comes() -> None:
    flows = {"flows": [{"stages": ["m.login.password"]}], "session": "s", "params": {}}
    validate_response("POST", f"{V3}/delete_devices", 401, flows)  # listed there
    validate_response("POST", f"{V3}/keys/device_signing/upload", 401, flows)  # not listed
    with pytest.raises(AssertionError, match="'stages' is a required property"):
        validate_response("POST", f"{V3}/keys/device_signing/upload", 401, {"flows": [{}]})
    # A UIA endpoint refusing a missing token answers the standard error.
    validate_response("POST", f"{V3}/delete_devices", 401, {"errcode": "M_MISSING_TOKEN"})


def test_a_success_status_the_operation_does_not_list_fails() -> None:
    with pytest.raises(AssertionError, match=r"(?s)answers 200, .*not 201"):
        validate_response("POST", f"{V3}/createRoom", 201, {"room_id": "!r:hs"})


def test_paths_outside_the_matrix_api_are_not_judged() -> None:
    validate_response("GET", "/_candor/v1/anything", 200, {"whatever": 1})
    validate_response("GET", "/_candor/v1/anything", 400, {"detail": "not a matrix error"})
    validate_response("GET", f"{V3}/not/in/the/spec", 200, ["unknown", "operation"])


def _client(answer: httpx.Response) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    return httpx.AsyncClient(
        transport=httpx.MockTransport(handler),
        base_url="http://test.local",
        event_hooks=spec_event_hooks(),
    )


async def test_the_hook_fails_the_call_that_got_a_bad_answer() -> None:
    async with _client(httpx.Response(200, json={"versions": "v1.11"})) as client:
        with pytest.raises(
            AssertionError, match=r"(?s)getVersions.*'v1.11' is not of type 'array'"
        ):
            await client.get("/_matrix/client/versions")
        # Not the Matrix API: passed through.
        assert (await client.get("/_candor/v1/versions")).json() == {"versions": "v1.11"}


async def test_the_hook_wants_json_where_the_spec_answers_json() -> None:
    async with _client(httpx.Response(200, text="ok")) as client:
        with pytest.raises(AssertionError, match="answers JSON here, got 'text/plain"):
            await client.get("/_matrix/client/versions")
    async with _client(httpx.Response(404, text="Not Found")) as client:
        with pytest.raises(AssertionError, match="answers JSON"):
            await client.get("/_matrix/client/v3/no/such/thing")
    # A download is not JSON, and the spec says so.
    async with _client(httpx.Response(200, content=b"\x89PNG")) as client:
        r = await client.get("/_matrix/client/v1/media/download/hs/abc")
        assert r.content == b"\x89PNG"


@pytest.mark.engines("sqlite")
async def test_the_http_fixture_checks_every_answer(http: httpx.AsyncClient) -> None:
    assert check_response in http.event_hooks["response"]
    r = await http.get("/_matrix/client/versions")
    assert r.status_code == 200


def test_the_copy_names_its_source_and_licence() -> None:
    readme = (SPEC_ROOT / "README.md").read_text()
    assert "matrix-org/matrix-spec" in readme
    assert "`d0ba2aae`" in readme
    assert "Apache License" in (SPEC_ROOT / "LICENSE").read_text()
