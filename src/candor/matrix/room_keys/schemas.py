"""Wire models for server-side key backups; bounds here keep every stored value in its column.

https://spec.matrix.org/v1.11/client-server-api/#server-side-key-backups
A body that fails these models is `400 M_BAD_JSON` before the service runs, so a bad entry
anywhere in a bulk upload rejects the whole upload and nothing is written.
"""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from candor.core.canonical_json import JsonDict
from candor.core.ids import InvalidId, RoomID

# Matrix integers must fit an IEEE double exactly (canonical JSON), and the columns are BIGINT.
MAX_SAFE_INTEGER = 2**53 - 1
# room_key_backups.session_id is String(255).
MAX_SESSION_ID_LENGTH = 255

# PostgreSQL text cannot hold U+0000 (opaque JSON is safe: canonical JSON escapes it).
NO_NUL = r"^[^\x00]*$"

Counter = Annotated[StrictInt, Field(ge=0, le=MAX_SAFE_INTEGER)]
SessionId = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_SESSION_ID_LENGTH, pattern=NO_NUL)
]
Algorithm = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=NO_NUL)]


def _check_room_id(raw: str) -> str:
    # RoomID.parse raises a CandorError; pydantic only turns ValueError into a field error.
    try:
        return str(RoomID.parse(raw))
    except InvalidId as exc:
        raise ValueError(exc.message) from None


BodyRoomId = Annotated[StrictStr, AfterValidator(_check_room_id)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class KeyBackupData(_Body):
    """One Megolm session as the client backs it up; only the three ranking fields are read."""

    first_message_index: Counter
    """The index of the first message in the session that the key can decrypt."""
    forwarded_count: Counter
    """How many times this key has been forwarded via key-sharing between devices."""
    is_verified: StrictBool
    """Whether the device backing up the key verified the device that the key is from."""
    session_data: JsonDict
    """Algorithm-dependent encrypted data; stored as canonical JSON and returned as stored."""


class RoomKeyBackupBody(_Body):
    """`PUT /room_keys/keys/{roomId}`: the sessions of one room."""

    sessions: dict[SessionId, KeyBackupData]


class RoomKeysBody(_Body):
    """`PUT /room_keys/keys`: the sessions of many rooms."""

    rooms: dict[BodyRoomId, RoomKeyBackupBody]


class VersionCreateBody(_Body):
    """`POST /room_keys/version`."""

    algorithm: Algorithm
    """The algorithm used for storing backups, e.g. `m.megolm_backup.v1.curve25519-aes-sha2`."""
    auth_data: JsonDict
    """Algorithm-dependent data (public key, signatures); opaque to the server."""


class VersionUpdateBody(VersionCreateBody):
    """`PUT /room_keys/version/{version}`: only `auth_data` may change."""

    version: StrictStr | None = None
    """Deprecated by the spec; if present it must be the same as the path parameter."""
