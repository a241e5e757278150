"""SQL for key backup versions and the backed-up session keys; no rule lives here.

"Live" versions are those not marked deleted. Version rows are kept after deletion so a
version number is never handed out twice.
"""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import upsert
from candor.store.models.keys import RoomKeyBackup, RoomKeyBackupVersion


@dataclass(frozen=True, slots=True)
class VersionRecord:
    version: int
    algorithm: str
    auth_data: str
    etag: int


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A backed-up session; `session_data` is the stored canonical JSON text."""

    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: str


class VersionExists(Exception):
    """The primary key (user_id, version) refused a concurrently numbered version."""


_VERSION_COLUMNS = (
    RoomKeyBackupVersion.version,
    RoomKeyBackupVersion.algorithm,
    RoomKeyBackupVersion.auth_data,
    RoomKeyBackupVersion.etag,
)
_KEY_COLUMNS = (
    RoomKeyBackup.room_id,
    RoomKeyBackup.session_id,
    RoomKeyBackup.first_message_index,
    RoomKeyBackup.forwarded_count,
    RoomKeyBackup.is_verified,
    RoomKeyBackup.session_data,
)


# --- versions ----------------------------------------------------------------------------


async def get_version(
    conn: AsyncConnection, user_id: str, version: int, *, for_update: bool = False
) -> VersionRecord | None:
    """A live version. `for_update` locks its row (PostgreSQL; SQLite's writer lock already
    serialises), so key writes and a concurrent delete of the version take turns."""
    stmt = select(*_VERSION_COLUMNS).where(
        RoomKeyBackupVersion.user_id == user_id,
        RoomKeyBackupVersion.version == version,
        RoomKeyBackupVersion.deleted.is_(False),
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    return None if row is None else VersionRecord(*row)


async def get_current_version(conn: AsyncConnection, user_id: str) -> VersionRecord | None:
    """The latest live version, which is the only one keys may be written to."""
    row = (
        await conn.execute(
            select(*_VERSION_COLUMNS)
            .where(
                RoomKeyBackupVersion.user_id == user_id,
                RoomKeyBackupVersion.deleted.is_(False),
            )
            .order_by(RoomKeyBackupVersion.version.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else VersionRecord(*row)


async def get_max_version(conn: AsyncConnection, user_id: str) -> int:
    """The highest version number ever used by the user, deleted ones included (0 if none)."""
    found = await conn.scalar(
        select(func.max(RoomKeyBackupVersion.version)).where(
            RoomKeyBackupVersion.user_id == user_id
        )
    )
    return int(found or 0)


async def add_version(
    conn: AsyncConnection, user_id: str, version: int, algorithm: str, auth_data: str
) -> None:
    try:
        await conn.execute(
            insert(RoomKeyBackupVersion).values(
                user_id=user_id,
                version=version,
                algorithm=algorithm,
                auth_data=auth_data,
                etag=0,
                deleted=False,
            )
        )
    except IntegrityError as exc:
        raise VersionExists(version) from exc


async def set_auth_data(conn: AsyncConnection, user_id: str, version: int, auth_data: str) -> None:
    await conn.execute(
        update(RoomKeyBackupVersion)
        .where(RoomKeyBackupVersion.user_id == user_id, RoomKeyBackupVersion.version == version)
        .values(auth_data=auth_data)
    )


async def set_version_deleted(conn: AsyncConnection, user_id: str, version: int) -> None:
    await conn.execute(
        update(RoomKeyBackupVersion)
        .where(RoomKeyBackupVersion.user_id == user_id, RoomKeyBackupVersion.version == version)
        .values(deleted=True)
    )


async def bump_etag(conn: AsyncConnection, user_id: str, version: int) -> int:
    """Increment and return the version's etag (the clients' "did the backup change?")."""
    result = await conn.execute(
        update(RoomKeyBackupVersion)
        .where(RoomKeyBackupVersion.user_id == user_id, RoomKeyBackupVersion.version == version)
        .values(etag=RoomKeyBackupVersion.etag + 1)
        .returning(RoomKeyBackupVersion.etag)
    )
    return int(result.scalar_one())


# --- keys --------------------------------------------------------------------------------


async def count_keys(conn: AsyncConnection, user_id: str, version: int) -> int:
    found = await conn.scalar(
        select(func.count())
        .select_from(RoomKeyBackup)
        .where(RoomKeyBackup.user_id == user_id, RoomKeyBackup.version == version)
    )
    return int(found or 0)


async def list_keys(
    conn: AsyncConnection,
    user_id: str,
    version: int,
    *,
    room_id: str | None = None,
    session_ids: Collection[str] | None = None,
) -> list[KeyRecord]:
    """Keys of a version, optionally of one room and, within it, of some sessions."""
    stmt = select(*_KEY_COLUMNS).where(
        RoomKeyBackup.user_id == user_id, RoomKeyBackup.version == version
    )
    if room_id is not None:
        stmt = stmt.where(RoomKeyBackup.room_id == room_id)
    if session_ids is not None:
        stmt = stmt.where(RoomKeyBackup.session_id.in_(session_ids))
    rows = await conn.execute(stmt.order_by(RoomKeyBackup.room_id, RoomKeyBackup.session_id))
    return [KeyRecord(r[0], r[1], int(r[2]), int(r[3]), bool(r[4]), r[5]) for r in rows]


async def set_key(conn: AsyncConnection, user_id: str, version: int, key: KeyRecord) -> None:
    await upsert(
        conn,
        RoomKeyBackup,
        {
            "user_id": user_id,
            "version": version,
            "room_id": key.room_id,
            "session_id": key.session_id,
            "first_message_index": key.first_message_index,
            "forwarded_count": key.forwarded_count,
            "is_verified": key.is_verified,
            "session_data": key.session_data,
        },
        ("user_id", "version", "room_id", "session_id"),
    )


async def delete_keys(
    conn: AsyncConnection,
    user_id: str,
    version: int,
    *,
    room_id: str | None = None,
    session_id: str | None = None,
) -> int:
    """Delete a version's keys, a room's, or one session's; returns how many went."""
    stmt = delete(RoomKeyBackup).where(
        RoomKeyBackup.user_id == user_id, RoomKeyBackup.version == version
    )
    if room_id is not None:
        stmt = stmt.where(RoomKeyBackup.room_id == room_id)
    if session_id is not None:
        stmt = stmt.where(RoomKeyBackup.session_id == session_id)
    result = await conn.execute(stmt)
    return int(result.rowcount)


async def delete_all_of(conn: AsyncConnection, user_id: str) -> None:
    """Every backup version and backed-up session of a deactivated account."""
    await conn.execute(delete(RoomKeyBackup).where(RoomKeyBackup.user_id == user_id))
    await conn.execute(delete(RoomKeyBackupVersion).where(RoomKeyBackupVersion.user_id == user_id))
