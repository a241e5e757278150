"""Matrix identifiers as value types, parsed once at the edge.

Grammar per https://spec.matrix.org/v1.11/appendices/#identifier-grammar. A malformed
id is a client error (`M_INVALID_PARAM`), raised here so no service sees a bad string.
"""

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from candor.core.errors import CandorError

# The localpart grammar for ids this server creates; older ids may contain more.
USER_LOCALPART_RE = re.compile(r"^[a-z0-9._=\-/+]+$")
_HISTORICAL_LOCALPART_RE = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
_SERVER_NAME_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9\-.]{1,255})(?::[0-9]{1,5})?$"
)
_OPAQUE_RE = re.compile(r"^[\x21-\x7e]+$")
MAX_ID_LENGTH = 255


class InvalidId(CandorError):
    status = 400
    errcode = "M_INVALID_PARAM"


def valid_server_name(name: str) -> bool:
    return bool(_SERVER_NAME_RE.match(name))


@dataclass(frozen=True, slots=True)
class _ServerScopedId:
    sigil: ClassVar[str]
    localpart: str
    server: str

    @classmethod
    def parse(cls, raw: str) -> Self:
        if (
            not isinstance(raw, str)
            or len(raw.encode()) > MAX_ID_LENGTH
            or not raw.startswith(cls.sigil)
        ):
            raise InvalidId(f"Invalid {cls.__name__}: {raw!r}"[:300])
        local, sep, server = raw[1:].partition(":")
        if not sep or not local or not valid_server_name(server) or not cls._valid_local(local):
            raise InvalidId(f"Invalid {cls.__name__}: {raw!r}"[:300])
        return cls(local, server)

    @classmethod
    def _valid_local(cls, local: str) -> bool:
        return bool(_OPAQUE_RE.match(local))

    def __str__(self) -> str:
        return f"{self.sigil}{self.localpart}:{self.server}"


@dataclass(frozen=True, slots=True)
class UserID(_ServerScopedId):
    sigil: ClassVar[str] = "@"

    @classmethod
    def _valid_local(cls, local: str) -> bool:
        return bool(_HISTORICAL_LOCALPART_RE.match(local))


@dataclass(frozen=True, slots=True)
class RoomID(_ServerScopedId):
    sigil: ClassVar[str] = "!"


@dataclass(frozen=True, slots=True)
class RoomAlias(_ServerScopedId):
    sigil: ClassVar[str] = "#"


def parse_event_id(raw: str) -> str:
    """Event ids are `$` + opaque text (room v4+ style); we validate shape only."""
    if not raw.startswith("$") or len(raw) < 2 or len(raw.encode()) > MAX_ID_LENGTH:
        raise InvalidId(f"Invalid event id: {raw!r}"[:300])
    if not _OPAQUE_RE.match(raw[1:]):
        raise InvalidId(f"Invalid event id: {raw!r}"[:300])
    return raw
