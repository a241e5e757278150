"""The query string of `GET /sync`, read by hand.

/sync is the one request every client repeats for as long as it runs: each delivered event
costs a re-poll. FastAPI's per-parameter validation and dependency solving were ~16% of the
server's CPU per delivery at 256 listeners (issue 17), for five scalar parameters; this
reads them directly and refuses bad values as FastAPI did (400 `M_INVALID_PARAM`, naming
the parameter).
"""

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from candor.matrix.errors import InvalidParam

MAX_TIMEOUT_PARAM_MS = 3_600_000
_MAX_SINCE = 64
_PRESENCE_STATES = ("offline", "online", "unavailable")
_MAX_FILTER = 8192
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})

# The same parameters for the OpenAPI document, which cannot see them in the signature.
OPENAPI_PARAMETERS = [
    {"name": "since", "in": "query", "schema": {"type": "string", "maxLength": _MAX_SINCE}},
    {
        "name": "timeout",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TIMEOUT_PARAM_MS},
    },
    {"name": "filter", "in": "query", "schema": {"type": "string", "maxLength": _MAX_FILTER}},
    {"name": "full_state", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "set_presence",
        "in": "query",
        "schema": {"type": "string", "enum": list(_PRESENCE_STATES)},
    },
]
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})


@dataclass(frozen=True, slots=True)
class SyncQuery:
    since: str | None
    timeout_ms: int
    filter: str | None
    full_state: bool
    set_presence: str | None

    @classmethod
    def parse(cls, params: QueryParams) -> "SyncQuery":
        return cls(
            since=_bounded(params, "since", _MAX_SINCE),
            timeout_ms=_timeout(params.get("timeout")),
            filter=_bounded(params, "filter", _MAX_FILTER),
            full_state=_boolean(params.get("full_state")),
            set_presence=_presence(params.get("set_presence")),
        )


def _presence(raw: str | None) -> str | None:
    if raw is not None and raw not in _PRESENCE_STATES:
        raise InvalidParam("Invalid parameter set_presence: offline, online or unavailable")
    return raw


def _bounded(params: QueryParams, name: str, max_length: int) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > max_length:
        raise InvalidParam(f"Invalid parameter {name}: at most {max_length} characters")
    return value


def _timeout(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidParam("Invalid parameter timeout: not an integer") from None
    if not 0 <= value <= MAX_TIMEOUT_PARAM_MS:
        raise InvalidParam(f"Invalid parameter timeout: must be 0 to {MAX_TIMEOUT_PARAM_MS}")
    return value


def _boolean(raw: str | None) -> bool:
    if raw is None:
        return False
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InvalidParam("Invalid parameter full_state: not a boolean")
