"""JSON encoding: canonical (sorted keys, compact, UTF-8) for storage and signatures.

Matrix signatures cover exact bytes, so opaque client JSON is stored canonically and
returned as stored. orjson is used because event bodies are the hot path.
"""

from typing import cast

import orjson

from candor.core.errors import CandorError

JsonDict = dict[str, object]


class UnencodableJson(CandorError):
    """Client JSON that parsed but cannot be stored (an integer past 64 bits, nesting too deep)."""

    status = 400
    errcode = "M_BAD_JSON"


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
