"""JSON encoding: canonical (sorted keys, compact, UTF-8) for storage and signatures.

Matrix signatures cover exact bytes, so opaque client JSON is stored canonically and
returned as stored. orjson is used because event bodies are the hot path.

Client JSON is read by `decode_client`, which refuses what canonical JSON cannot hold
(https://spec.matrix.org/v1.11/appendices/#canonical-json): `NaN`/`Infinity`, integers
outside ±(2^53-1), non-finite numbers and repeated keys. Floats are legal JSON and some
bodies carry them (account data, as in Synapse), so only event content refuses them too
(`check_event_content`; room versions 6+ require servers to enforce this).
"""

import json
import math
from typing import Never, cast

import orjson

from candor.core.errors import CandorError

JsonDict = dict[str, object]


class UnencodableJson(CandorError):
    """Client JSON that parsed but cannot be stored (an integer past 64 bits, nesting too deep)."""

    status = 400
    errcode = "M_BAD_JSON"


class BadClientJson(CandorError):
    """Client JSON that parsed but breaks the canonical-JSON rules; nothing was changed."""

    status = 400
    errcode = "M_BAD_JSON"


MAX_SAFE_INTEGER = 2**53 - 1
# Digits of MAX_SAFE_INTEGER: a longer literal is out of range without converting it (and
# converting a 5,000-digit literal would trip Python's int limit with a bare ValueError).
_MAX_SAFE_DIGITS = len(str(MAX_SAFE_INTEGER))


def _refuse_constant(name: str) -> Never:
    raise BadClientJson(f"{name} is not allowed in JSON")


def _checked_int(literal: str) -> int:
    digits = literal.removeprefix("-")
    if len(digits) > _MAX_SAFE_DIGITS or abs(value := int(literal)) > MAX_SAFE_INTEGER:
        raise BadClientJson("integers must be between -(2**53)+1 and (2**53)-1")
    return value


def _checked_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e400 would silently become Infinity
        raise BadClientJson("numbers must be finite")
    return value


def _unique_keys(pairs: list[tuple[str, object]]) -> JsonDict:
    value = dict(pairs)
    if len(value) != len(pairs):
        # Readers disagree on which copy wins; signatures and auth rules must not.
        raise BadClientJson("an object repeats a key")
    return value


def decode_client(raw: bytes) -> object:
    """Parse a client's request body by the canonical-JSON rules (see the module doc).

    Raises json.JSONDecodeError for text that is not JSON at all (the caller answers
    M_NOT_JSON) and BadClientJson (M_BAD_JSON) for JSON that breaks a rule. The stdlib
    parser is used, not orjson, because only it reports repeated keys (object_pairs_hook).
    """
    try:
        return json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_int=_checked_int,
            parse_float=_checked_float,
            object_pairs_hook=_unique_keys,
        )
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", 0) from exc
    except RecursionError:
        raise BadClientJson("JSON nested too deeply") from None


def check_event_content(content: object, *, where: str = "content") -> None:
    """Refuse floats in event content: canonical JSON has integers only, and room versions
    6 and later make servers enforce it with 400 M_BAD_JSON (the spec's v6 room rules).

    Integers were range-checked when the body was parsed; they are checked again here
    because content can also be assembled by the server from several bodies (createRoom).
    """
    stack: list[object] = [content]
    while stack:
        value = stack.pop()
        if isinstance(value, float):
            raise BadClientJson(f"{where} must not contain floats (canonical JSON)")
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
            raise BadClientJson(f"{where} has an integer out of range (canonical JSON)")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def encode_canonical(value: object) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        raise UnencodableJson(f"JSON cannot be encoded: {exc}") from exc


def encode(value: object) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        raise UnencodableJson(f"JSON cannot be encoded: {exc}") from exc


def decode(raw: bytes | str) -> object:
    return orjson.loads(raw)


def decode_dict(raw: bytes | str) -> JsonDict:
    """Decode JSON that the store wrote, which is always an object."""
    return cast(JsonDict, orjson.loads(raw))
