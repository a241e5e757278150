"""Candor's answers checked against the Matrix specification's own OpenAPI definitions.

`tests/data/matrix-spec/` holds the spec's `data/` tree (see its README); every in-process
API test sends its responses through `check_response` (an httpx response hook on the
`http` fixture), so a missing required key, a wrong type or a malformed error fails the
test that made the call, naming the operation and the JSON path. Hand-copied shapes drift
from the spec; these files are the spec.

How a response is judged:
- the request's method and path pick an operation by the files' path templates under each
  file's `servers` base path (`/_matrix/client/v3`, `/_matrix/client/v1`, `/_matrix`,
  `/.well-known`…); a literal segment beats a parameter. A path no file names (Candor's own
  `/_candor`, the OAuth pages) is not judged, except that an error under `/_matrix` must
  still be the spec's standard error object.
- a status the operation lists is validated against that response's JSON schema; an
  unlisted error status against the standard error (`definitions/errors/error.yaml`; a 429
  against its rate-limited form, `rate_limited.yaml`), and a 401 that carries `flows`
  against the user-interactive-auth answer (`definitions/auth_response.yaml`), which the
  spec allows on any UIA endpoint. A success status the operation does not list is itself a
  deviation.
- schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect, and the `$schema` of the event
  schemas); `$ref`s resolve relative to the file that holds them, through a registry of
  every file loaded once. OpenAPI's own keys (`example`, `x-…`) are unknown keywords that
  jsonschema ignores; the spec's `mx-…` string formats (`string-formats.yaml`) are checked
  by their sigil, as that file's regexes say.
"""

import base64
import binascii
import functools
import os
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import httpx
import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ROOT = Path(__file__).resolve().parents[1] / "data" / "matrix-spec"
CLIENT_SERVER = SPEC_ROOT / "api" / "client-server"
ERROR_SCHEMA = "definitions/errors/error.yaml"
UIA_SCHEMA = "definitions/auth_response.yaml"
RATE_LIMITED_SCHEMA = "definitions/errors/rate_limited.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
# Paths whose JSON answers the Matrix spec governs.
JUDGED_PREFIXES = ("/_matrix/", "/.well-known/matrix/")
# Names a file that collects every judged (METHOD, template, status), one a line, when set:
# how the suite measures which operations it exercises.
SEEN_LOG = "CANDOR_SPEC_SEEN"
MAX_ERRORS_SHOWN = 5

JsonValue = Any  # Any: a decoded JSON body or YAML document, checked by the schema itself

_UNPADDED_BASE64 = re.compile(r"[A-Za-z0-9+/]*")
_URLSAFE_UNPADDED_BASE64 = re.compile(r"[A-Za-z0-9_-]*")


def _unpadded_base64(value: object, alphabet: re.Pattern[str]) -> bool:
    if not isinstance(value, str):
        return True
    if not alphabet.fullmatch(value) or len(value) % 4 == 1:
        return False
    standard = value.replace("-", "+").replace("_", "/")
    try:
        base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return False
    return True


def _sigil(prefix: str) -> Callable[[object], bool]:
    return lambda value: not isinstance(value, str) or value.startswith(prefix)


def _format_checker() -> jsonschema.FormatChecker:
    """The spec's `mx-` formats as `string-formats.yaml` defines them (by sigil)."""
    checker = jsonschema.FormatChecker(formats=())
    checks: Mapping[str, Callable[[object], bool]] = {
        "mx-user-id": _sigil("@"),
        "mx-event-id": _sigil("$"),
        "mx-room-id": _sigil("!"),
        "mx-room-alias": _sigil("#"),
        "mx-mxc-uri": _sigil("mxc://"),
        "mx-unpadded-base64": lambda v: _unpadded_base64(v, _UNPADDED_BASE64),
        "mx-urlsafe-unpadded-base64": lambda v: _unpadded_base64(v, _URLSAFE_UNPADDED_BASE64),
    }
    for name, check in checks.items():
        checker.checks(name)(check)
    return checker


def _uri(path: Path) -> str:
    return path.as_uri()


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _load_tree() -> dict[str, JsonValue]:
    """Every YAML file of the tree by its file URI (the C loader: the tree is 1 MB)."""
    documents: dict[str, JsonValue] = {}
    for path in sorted(SPEC_ROOT.rglob("*.yaml")):
        with path.open("rb") as stream:
            documents[_uri(path)] = yaml.load(stream, Loader=yaml.CSafeLoader)
    return documents


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation and where each of its responses' JSON schemas lives."""

    method: str
    template: str
    file: str
    operation_id: str
    # the operation object's URI (file#pointer), to read its examples
    source: str
    # status ("200", "4XX"…) → the JSON schema's URI (file#pointer), None when not JSON
    responses: Mapping[str, str | None]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template} ({self.file} {self.operation_id})"

    def segments(self) -> list[str]:
        return self.template.split("/")


def _response_schema(document: JsonValue, uri: str, pointer: str) -> str | None:
    """The URI of a response object's JSON schema, following the response's own `$ref`."""
    response = _at(document, pointer)
    while "$ref" in response:
        ref_uri, fragment = urldefrag(_join(uri, response["$ref"]))
        assert ref_uri == uri, f"response $ref outside its file: {response['$ref']}"
        pointer = fragment
        response = _at(document, pointer)
    schema = (response.get("content") or {}).get("application/json", {}).get("schema")
    if schema is None:
        return None
    if set(schema) == {"$ref"}:  # named by the file it lives in, as the 401s' UIA answer
        return _join(uri, schema["$ref"])
    return f"{uri}#{pointer}{_pointer('content', 'application/json', 'schema')}"


def _join(base: str, ref: str) -> str:
    return urljoin(base, ref)


def _at(document: JsonValue, pointer: str) -> JsonValue:
    node = document
    for part in pointer.lstrip("/").split("/") if pointer else []:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(documents: Mapping[str, JsonValue]) -> list[Operation]:
    found = []
    for path in sorted(CLIENT_SERVER.glob("*.yaml")):
        uri = _uri(path)
        document = documents[uri]
        base = document["servers"][0]["variables"]["basePath"]["default"]
        for template, item in document["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                operation = item[method]
                responses = {
                    str(status): _response_schema(
                        document, uri, _pointer("paths", template, method, "responses", str(status))
                    )
                    for status in operation.get("responses", {})
                }
                found.append(
                    Operation(
                        method=method.upper(),
                        template=base + template,
                        file=path.name,
                        operation_id=operation.get("operationId", "?"),
                        source=f"{uri}#{_pointer('paths', template, method)}",
                        responses=responses,
                    )
                )
    return found


def _registry(documents: Mapping[str, JsonValue]) -> Registry[JsonValue]:
    resources = [
        (uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in documents.items()
    ]
    return Registry().with_resources(resources).crawl()


def _path_segments(raw_path: bytes) -> list[str]:
    """Percent-encoded segments: an encoded `/` inside an ID stays inside its segment."""
    return raw_path.split(b"?", 1)[0].decode("ascii").split("/")


class SpecIndex:
    """Every client-server operation of the spec, with cached validators per response."""

    def __init__(self) -> None:
        documents = _load_tree()
        self.documents: Mapping[str, JsonValue] = documents
        self.operations = _operations(documents)
        self.registry = _registry(documents)
        self._formats = _format_checker()
        self._by_shape: dict[tuple[str, int], list[Operation]] = {}
        for op in self.operations:
            self._by_shape.setdefault((op.method, len(op.segments())), []).append(op)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def find(self, method: str, raw_path: bytes | str) -> Operation | None:
        """The operation whose template matches; literal segments win over parameters."""
        raw = raw_path.encode() if isinstance(raw_path, str) else raw_path
        segments = _path_segments(raw)
        found = self._match(method, segments)
        if found is None:
            # `/rooms/{roomId}/state/{eventType}` is `…/{stateKey}` with the empty key.
            found = self._match(method, [*segments, ""])
            if found is not None and not found.segments()[-1].startswith("{"):
                return None
        return found

    def _match(self, method: str, segments: list[str]) -> Operation | None:
        best: tuple[int, Operation] | None = None
        for op in self._by_shape.get((method.upper(), len(segments)), []):
            literals = 0
            for pattern, segment in zip(op.segments(), segments, strict=True):
                if pattern.startswith("{") and pattern.endswith("}"):
                    continue
                if pattern != segment:
                    break
                literals += 1
            else:
                if best is None or literals > best[0]:
                    best = (literals, op)
        return best[1] if best else None

    def validator(self, schema_uri: str) -> jsonschema.Draft202012Validator:
        if schema_uri not in self._validators:
            self._validators[schema_uri] = jsonschema.Draft202012Validator(
                {"$ref": schema_uri}, registry=self.registry, format_checker=self._formats
            )
        return self._validators[schema_uri]

    def shared_schema(self, relative: str) -> str:
        return _uri(CLIENT_SERVER / relative)

    def response_key(self, op: Operation, status: int) -> str | None:
        """The operation's response entry for this status: exact, then `4XX`-style."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in op.responses:
                return key
        return None

    def schema_for(self, op: Operation | None, status: int, body: JsonValue) -> str | None:
        """Which schema judges this answer (see the module docstring), or None for none."""
        key = self.response_key(op, status) if op is not None else None
        listed = op.responses[key] if op is not None and key is not None else None
        uia = self.shared_schema(UIA_SCHEMA)
        if status == 401 and isinstance(body, dict) and "flows" in body:
            return uia
        if listed is not None and not (status == 401 and listed == uia):
            return listed
        if status == 429:
            return self.shared_schema(RATE_LIMITED_SCHEMA)
        if status >= 400:
            return self.shared_schema(ERROR_SCHEMA)
        return None

    def errors(self, schema_uri: str, body: JsonValue) -> list[ValidationError]:
        found: list[ValidationError] = list(self.validator(schema_uri).iter_errors(body))
        return found


@functools.cache
def spec_index() -> SpecIndex:
    """Built once per test process (a fraction of a second, then every check is cached)."""
    return SpecIndex()


def _describe(error: ValidationError) -> str:
    return f"at {error.json_path}: {error.message}"


def _where(method: str, path: str, status: int, op: Operation | None) -> str:
    return f"{method} {path} → {status}: " + (op.name if op else "not in the spec")


def validate_response(method: str, raw_path: bytes | str, status: int, body: JsonValue) -> None:
    """Raise AssertionError unless `body` is what the spec allows for this answer."""
    index = spec_index()
    op = index.find(method, raw_path)
    path = raw_path.decode() if isinstance(raw_path, bytes) else raw_path
    if op is None and (status < 400 or not path.startswith(JUDGED_PREFIXES)):
        return
    where = _where(method, path, status, op)
    if op is not None and status < 400 and index.response_key(op, status) is None:
        listed = ", ".join(sorted(op.responses))
        raise AssertionError(f"{where}: the operation answers {listed}, not {status}")
    schema_uri = index.schema_for(op, status, body)
    if schema_uri is None:
        return
    _note_seen(method, op, status)
    errors = sorted(index.errors(schema_uri, body), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    first = best_match(errors)
    shown = [_describe(first)] + [_describe(e) for e in errors if e is not first]
    more = len(shown) - MAX_ERRORS_SHOWN
    lines = shown[:MAX_ERRORS_SHOWN] + ([f"… and {more} more"] if more > 0 else [])
    schema = schema_uri.removeprefix(_uri(SPEC_ROOT) + "/")
    raise AssertionError(f"{where} violates {schema}:\n  " + "\n  ".join(lines))


def event_schema(event: JsonValue) -> str:
    """The spec's schema for a full room event (`m.room.message` by its msgtype)."""
    schemas = SPEC_ROOT / "event-schemas" / "schema"
    kind = event.get("type") if isinstance(event, dict) else None
    content = event.get("content") if isinstance(event, dict) else None
    msgtype = content.get("msgtype") if isinstance(content, dict) else None
    index = spec_index()
    for name in (f"{kind}${msgtype}", f"{kind}"):
        if _uri(schemas / f"{name}.yaml") in index.documents:
            return _uri(schemas / f"{name}.yaml")
    core = "state_event" if isinstance(event, dict) and "state_key" in event else "room_event"
    return _uri(schemas / "core-event-schema" / f"{core}.yaml")


def validate_event(event: JsonValue) -> None:
    """Raise AssertionError unless a room event (with its `room_id`, as `/state`, `/event`
    and `/messages` give it) is what the spec's event schemas describe.

    For events the server builds (createRoom's state, memberships): a client's own content
    is the client's business, and servers pass it through unchecked."""
    schema_uri = event_schema(event)
    errors = spec_index().errors(schema_uri, event)
    if errors:
        schema = schema_uri.removeprefix(_uri(SPEC_ROOT) + "/")
        lines = [_describe(e) for e in errors[:MAX_ERRORS_SHOWN]]
        raise AssertionError(f"{event!r} violates {schema}:\n  " + "\n  ".join(lines))


def validate_schema(file: str, body: JsonValue) -> None:
    """Raise AssertionError unless `body` matches one schema file of the spec (relative to
    `tests/data/matrix-spec/`), for pieces no operation answers alone (stripped state)."""
    schema_uri = _uri(SPEC_ROOT / file)
    errors = spec_index().errors(schema_uri, body)
    if errors:
        lines = [_describe(e) for e in errors[:MAX_ERRORS_SHOWN]]
        raise AssertionError(f"{body!r} violates {file}:\n  " + "\n  ".join(lines))


def _note_seen(method: str, op: Operation | None, status: int) -> None:
    log = os.environ.get(SEEN_LOG)
    if log:
        template = op.template if op else "(unknown)"
        with Path(log).open("a") as out:
            out.write(f"{method} {template} {status}\n")


async def check_response(response: httpx.Response) -> None:
    """httpx response hook: fail the call whose answer the spec does not allow."""
    request = response.request
    if request.method in ("HEAD", "OPTIONS") or not request.url.path.startswith(JUDGED_PREFIXES):
        return
    await response.aread()
    index = spec_index()
    op = index.find(request.method, request.url.raw_path)
    listed = op is not None and index.response_key(op, response.status_code) is not None
    if response.is_success and listed and index.schema_for(op, response.status_code, None) is None:
        return  # a file the spec does not model as JSON (a download of a JSON upload)
    if response.headers.get("content-type", "").startswith("application/json"):
        validate_response(
            request.method, request.url.raw_path, response.status_code, response.json()
        )
        return
    if index.schema_for(op, response.status_code, None) is not None:
        where = _where(request.method, request.url.path, response.status_code, op)
        content_type = response.headers.get("content-type")
        raise AssertionError(f"{where}: the spec answers JSON here, got {content_type!r}")


Hook = Callable[[httpx.Response], Coroutine[Any, Any, None]]


def spec_event_hooks() -> dict[str, list[Hook]]:
    """`event_hooks=` for an in-process `httpx.AsyncClient` over the app."""
    return {"response": [check_response]}
