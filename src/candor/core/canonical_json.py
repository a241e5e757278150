"""JSON encoding: canonical (sorted keys, compact, UTF-8) for storage and signatures.

Matrix signatures cover exact bytes, so opaque client JSON is stored canonically and
returned as stored. orjson is used because event bodies are the hot path.
"""

from typing import cast

import orjson

JsonDict = dict[str, object]


def encode_canonical(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def encode(value: object) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def decode(raw: bytes | str) -> object:
    return orjson.loads(raw)


def decode_dict(raw: bytes | str) -> JsonDict:
    """Decode JSON that the store wrote, which is always an object."""
    return cast(JsonDict, orjson.loads(raw))
