"""Validate Candor's answers against the Matrix specification's own OpenAPI definitions.

The definitions are copied into `tests/data/matrix-spec/data/` (matrix-org/matrix-spec
`data/`, see tests/data/README.md); `$ref`s resolve relative to each file, as in the spec.
"""

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_DATA = Path(__file__).resolve().parents[1] / "data" / "matrix-spec" / "data"
CLIENT_SERVER = SPEC_DATA / "api" / "client-server"


@cache
def _load(path: Path) -> Any:  # Any: parsed YAML
    return yaml.safe_load(path.read_text())


def _retrieve(uri: str) -> Resource[Any]:  # Any: referencing's resource contents
    return Resource.from_contents(
        _load(Path(uri.removeprefix("file://"))), default_specification=DRAFT202012
    )


def _validator(schema: dict[str, Any], base: Path) -> jsonschema.Draft202012Validator:
    rooted = {**schema, "$id": base.as_uri()}
    return jsonschema.Draft202012Validator(
        rooted,
        registry=Registry(retrieve=_retrieve),  # type: ignore[call-arg]
    )


def check_response(file: str, path: str, method: str, body: object, status: str = "200") -> None:
    """Raise unless `body` matches the response schema of one operation of `file`."""
    base = CLIENT_SERVER / file
    operation = _load(base)["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    _validator(schema, base).validate(body)


def check_schema(file: str, body: object) -> None:
    """Raise unless `body` matches the schema file `file` (relative to `data/`)."""
    base = SPEC_DATA / file
    _validator(_load(base), base).validate(body)
