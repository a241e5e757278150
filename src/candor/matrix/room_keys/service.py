"""Key backups: versions and the encrypted session keys clients store in them, per user.

https://spec.matrix.org/v1.11/client-server-api/#server-side-key-backups
Invariants: a user sees only their own backups; keys are written only to the current
(latest live) version; a session already backed up is replaced only by a better copy
(`should_replace`); every change to a version's keys increments its etag; all input is
validated and encoded before the write transaction opens, so a failed request changes nothing.
"""

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict, decode_dict, encode_canonical
from candor.matrix.errors import Codes, InvalidParam, MatrixError, NotFound
from candor.matrix.requester import Requester
from candor.matrix.room_keys import repository as repo
from candor.matrix.room_keys.repository import KeyRecord
from candor.matrix.room_keys.schemas import KeyBackupData
from candor.store.db import Database

logger = logging.getLogger(__name__)

# A version id is the decimal form of a positive int that fits the INTEGER column; any
# other spelling ("01", "1.0", "x") names no version. Checked before any SQL runs.
_VERSION_RE = re.compile(r"^[1-9][0-9]{0,9}$")
_MAX_VERSION = 2**31 - 1
# Each racing creator loses at most once per winner; this bounds a burst from one user.
_CREATE_ATTEMPTS = 10
# Keeps `IN (...)` well under SQLite's bound-parameter limit.
_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    algorithm: str
    auth_data: JsonDict
    count: int
    etag: str


@dataclass(frozen=True, slots=True)
class BackupState:
    """What a key write or delete answers: clients compare etags to spot other writers."""

    etag: str
    count: int


class WrongRoomKeysVersion(MatrixError):
    def __init__(self, current_version: str | None) -> None:
        super().__init__(
            403,
            Codes.WRONG_ROOM_KEYS_VERSION,
            "Wrong backup version",
            current_version=current_version,
        )


def parse_version(raw: str) -> int:
    """The path/query version as a number; an id that cannot exist is simply not found."""
    if not _VERSION_RE.match(raw) or int(raw) > _MAX_VERSION:
        raise NotFound("Unknown backup version")
    return int(raw)


def should_replace(existing: KeyRecord, new: KeyRecord) -> bool:
    """Whether an uploaded copy of a session beats the stored one.

    The spec ranks copies by `is_verified` (true is better), then the lower
    `first_message_index`, then the lower `forwarded_count`; a tie keeps the stored copy so
    re-uploading the same key is not a change (and does not move the etag).
    """

    def rank(key: KeyRecord) -> tuple[bool, int, int]:
        return (not key.is_verified, key.first_message_index, key.forwarded_count)

    return rank(new) < rank(existing)


def _record(room_id: str, session_id: str, data: KeyBackupData) -> KeyRecord:
    return KeyRecord(
        room_id=room_id,
        session_id=session_id,
        first_message_index=data.first_message_index,
        forwarded_count=data.forwarded_count,
        is_verified=data.is_verified,
        session_data=encode_canonical(data.session_data).decode(),
    )


def key_json(key: KeyRecord) -> JsonDict:
    """KeyBackupData on the wire, with `session_data` exactly as stored."""
    return {
        "first_message_index": key.first_message_index,
        "forwarded_count": key.forwarded_count,
        "is_verified": key.is_verified,
        "session_data": decode_dict(key.session_data),
    }


class RoomKeysService:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- versions --------------------------------------------------------------------

    async def create_version(
        self, requester: Requester, algorithm: str, auth_data: JsonDict
    ) -> str:
        """Number the new version max+1 over all the user's versions, deleted ones included,
        so a number is never reused. Two creators racing on PostgreSQL read the same max;
        the (user_id, version) primary key refuses the second, which retries with a fresh max.
        """
        stored = encode_canonical(auth_data).decode()
        for _ in range(_CREATE_ATTEMPTS):
            try:
                async with self._db.write() as conn:
                    number = await repo.get_max_version(conn, requester.user_id) + 1
                    await repo.add_version(conn, requester.user_id, number, algorithm, stored)
            except repo.VersionExists:
                continue
            logger.info("key backup version %s created for %s", number, requester.user_id)
            return str(number)
        raise MatrixError(409, Codes.UNKNOWN, "Backup versions are being created concurrently")

    async def get_version(self, requester: Requester, version: str | None) -> VersionInfo:
        """`None` asks for the current version."""
        number = None if version is None else parse_version(version)
        async with self._db.read() as conn:
            if number is None:
                found = await repo.get_current_version(conn, requester.user_id)
                if found is None:
                    raise NotFound("No current backup version")
            else:
                found = await repo.get_version(conn, requester.user_id, number)
                if found is None:
                    raise NotFound("Unknown backup version")
            count = await repo.count_keys(conn, requester.user_id, found.version)
        return VersionInfo(
            version=str(found.version),
            algorithm=found.algorithm,
            auth_data=decode_dict(found.auth_data),
            count=count,
            etag=str(found.etag),
        )

    async def update_version(
        self,
        requester: Requester,
        version: str,
        algorithm: str,
        auth_data: JsonDict,
        body_version: str | None,
    ) -> None:
        """Only `auth_data` may change: a new algorithm would make the stored keys unreadable,
        so the spec asks clients to create a new version instead."""
        number = parse_version(version)
        if body_version is not None and body_version != version:
            raise InvalidParam("The version in the body does not match the path")
        stored = encode_canonical(auth_data).decode()
        async with self._db.write() as conn:
            found = await repo.get_version(conn, requester.user_id, number, for_update=True)
            if found is None:
                raise NotFound("Unknown backup version")
            if found.algorithm != algorithm:
                raise InvalidParam("The algorithm of a backup version cannot change")
            await repo.set_auth_data(conn, requester.user_id, number, stored)

    async def delete_version(self, requester: Requester, version: str) -> None:
        """Mark the version deleted (its number stays taken) and drop its keys."""
        number = parse_version(version)
        async with self._db.write() as conn:
            if await repo.get_version(conn, requester.user_id, number, for_update=True) is None:
                raise NotFound("Unknown backup version")
            await repo.delete_keys(conn, requester.user_id, number)
            await repo.set_version_deleted(conn, requester.user_id, number)

    # --- keys ------------------------------------------------------------------------

    async def upload_keys(
        self,
        requester: Requester,
        version: str,
        rooms: Mapping[str, Mapping[str, KeyBackupData]],
    ) -> BackupState:
        """Store sessions in the current version, keeping the better copy of each.

        The version row is locked first, so concurrent uploads to one version apply their
        replacement rule one after another and a concurrent delete cannot orphan keys.
        """
        number = parse_version(version)
        incoming = {
            room_id: [_record(room_id, sid, data) for sid, data in sessions.items()]
            for room_id, sessions in rooms.items()
        }
        user_id = requester.user_id
        async with self._db.write() as conn:
            found = await repo.get_version(conn, user_id, number, for_update=True)
            if found is None:
                raise NotFound("Unknown backup version")
            current = await repo.get_current_version(conn, user_id)
            if current is None or current.version != number:
                raise WrongRoomKeysVersion(None if current is None else str(current.version))
            changed = False
            for room_id, keys in incoming.items():
                for start in range(0, len(keys), _LOOKUP_CHUNK):
                    chunk = keys[start : start + _LOOKUP_CHUNK]
                    stored = await repo.list_keys(
                        conn,
                        user_id,
                        number,
                        room_id=room_id,
                        session_ids=[k.session_id for k in chunk],
                    )
                    existing = {k.session_id: k for k in stored}
                    for key in chunk:
                        old = existing.get(key.session_id)
                        if old is None or should_replace(old, key):
                            await repo.set_key(conn, user_id, number, key)
                            changed = True
            etag = await repo.bump_etag(conn, user_id, number) if changed else found.etag
            count = await repo.count_keys(conn, user_id, number)
        return BackupState(etag=str(etag), count=count)

    async def get_keys(self, requester: Requester, version: str) -> JsonDict:
        """`{"rooms": {room: {"sessions": {session: KeyBackupData}}}}` for the whole version."""
        rooms: dict[str, dict[str, JsonDict]] = {}
        for key in await self._list_keys(requester, version, None):
            rooms.setdefault(key.room_id, {})[key.session_id] = key_json(key)
        return {"rooms": {room: {"sessions": sessions} for room, sessions in rooms.items()}}

    async def get_room_keys(self, requester: Requester, version: str, room_id: str) -> JsonDict:
        """`{"sessions": {...}}`; a room with no keys is an empty map, not an error (spec)."""
        keys = await self._list_keys(requester, version, room_id)
        return {"sessions": {key.session_id: key_json(key) for key in keys}}

    async def get_session_key(
        self, requester: Requester, version: str, room_id: str, session_id: str
    ) -> JsonDict:
        number = parse_version(version)
        async with self._db.read() as conn:
            if await repo.get_version(conn, requester.user_id, number) is None:
                raise NotFound("Unknown backup version")
            found = await repo.list_keys(
                conn, requester.user_id, number, room_id=room_id, session_ids=[session_id]
            )
        if not found:
            raise NotFound("No backed-up key for this session")
        return key_json(found[0])

    async def _list_keys(
        self, requester: Requester, version: str, room_id: str | None
    ) -> Sequence[KeyRecord]:
        number = parse_version(version)
        async with self._db.read() as conn:
            if await repo.get_version(conn, requester.user_id, number) is None:
                raise NotFound("Unknown backup version")
            return await repo.list_keys(conn, requester.user_id, number, room_id=room_id)

    async def delete_keys(
        self,
        requester: Requester,
        version: str,
        room_id: str | None = None,
        session_id: str | None = None,
    ) -> BackupState:
        """Any live version, not only the current one: the spec restricts only uploads, and
        clients may tidy an older backup they still hold."""
        number = parse_version(version)
        user_id = requester.user_id
        async with self._db.write() as conn:
            found = await repo.get_version(conn, user_id, number, for_update=True)
            if found is None:
                raise NotFound("Unknown backup version")
            deleted = await repo.delete_keys(
                conn, user_id, number, room_id=room_id, session_id=session_id
            )
            etag = await repo.bump_etag(conn, user_id, number) if deleted else found.etag
            count = await repo.count_keys(conn, user_id, number)
        return BackupState(etag=str(etag), count=count)
