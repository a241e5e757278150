"""SQL for device keys, one-time and fallback keys, cross-signing keys and signatures.

Key objects are stored as the canonical JSON the client signed. Races are closed by
constraints: the one_time_keys primary key refuses a duplicate key id, and a claim is one
atomic `DELETE … RETURNING` whose row is picked with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite runs writers one at a time), so a key is never handed out twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict, decode_dict, encode_canonical
from candor.store.db import upsert
from candor.store.models.accounts import Device
from candor.store.models.keys import (
    CrossSigningKey,
    DeviceKeys,
    DeviceListChange,
    FallbackKey,
    KeySignature,
    OneTimeKey,
    ToDeviceMessage,
)
from candor.store.models.rooms import RoomMembership


@dataclass(frozen=True, slots=True)
class QueriedDevice:
    user_id: str
    device_id: str
    keys: JsonDict
    display_name: str | None


@dataclass(frozen=True, slots=True)
class SignatureRow:
    target_user_id: str
    target_key_id: str
    signer_user_id: str
    signer_key_id: str
    signature: str


# --- device keys ---------------------------------------------------------------------------


async def get_device_keys(conn: AsyncConnection, user_id: str, device_id: str) -> JsonDict | None:
    raw = await conn.scalar(
        select(DeviceKeys.key_json).where(
            DeviceKeys.user_id == user_id, DeviceKeys.device_id == device_id
        )
    )
    return None if raw is None else decode_dict(raw)


async def set_device_keys(
    conn: AsyncConnection, user_id: str, device_id: str, keys: JsonDict
) -> None:
    await upsert(
        conn,
        DeviceKeys,
        {"user_id": user_id, "device_id": device_id, "key_json": encode_canonical(keys).decode()},
        ("user_id", "device_id"),
    )


async def list_device_keys(
    conn: AsyncConnection, wanted: dict[str, list[str]]
) -> list[QueriedDevice]:
    """Keys of existing devices; an empty device list means all of that user's devices."""
    if not wanted:
        return []
    conds = []
    for user_id, device_ids in wanted.items():
        if device_ids:
            conds.append(and_(DeviceKeys.user_id == user_id, DeviceKeys.device_id.in_(device_ids)))
        else:
            conds.append(DeviceKeys.user_id == user_id)
    rows = await conn.execute(
        select(DeviceKeys.user_id, DeviceKeys.device_id, DeviceKeys.key_json, Device.display_name)
        .join(
            Device,
            and_(Device.user_id == DeviceKeys.user_id, Device.device_id == DeviceKeys.device_id),
        )
        .where(or_(*conds))
    )
    return [QueriedDevice(r[0], r[1], decode_dict(r[2]), r[3]) for r in rows]


# --- one-time and fallback keys ------------------------------------------------------------


async def get_one_time_keys(
    conn: AsyncConnection, user_id: str, device_id: str, key_ids: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Stored JSON of the given (algorithm, key id) pairs that exist."""
    if not key_ids:
        return {}
    rows = await conn.execute(
        select(OneTimeKey.algorithm, OneTimeKey.key_id, OneTimeKey.key_json).where(
            OneTimeKey.user_id == user_id,
            OneTimeKey.device_id == device_id,
            or_(
                *(
                    and_(OneTimeKey.algorithm == alg, OneTimeKey.key_id == kid)
                    for alg, kid in key_ids
                )
            ),
        )
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def add_one_time_keys(
    conn: AsyncConnection, user_id: str, device_id: str, keys: Sequence[tuple[str, str, str]]
) -> None:
    """(algorithm, key id, canonical JSON) rows; the primary key refuses a duplicate id."""
    if keys:
        await conn.execute(
            insert(OneTimeKey),
            [
                {
                    "user_id": user_id,
                    "device_id": device_id,
                    "algorithm": alg,
                    "key_id": kid,
                    "key_json": raw,
                }
                for alg, kid, raw in keys
            ],
        )


async def count_keys(
    conn: AsyncConnection, user_id: str, device_id: str
) -> tuple[dict[str, int], list[str]]:
    """One-time key counts by algorithm and unused fallback key algorithms, in one query."""
    otk = select(OneTimeKey.algorithm, func.count().label("n"), literal(0).label("fallback")).where(
        OneTimeKey.user_id == user_id, OneTimeKey.device_id == device_id
    )
    fallback = select(FallbackKey.algorithm, literal(0), literal(1)).where(
        FallbackKey.user_id == user_id,
        FallbackKey.device_id == device_id,
        FallbackKey.used.is_(False),
    )
    rows = await conn.execute(union_all(otk.group_by(OneTimeKey.algorithm), fallback))
    counts: dict[str, int] = {}
    unused: list[str] = []
    for algorithm, n, is_fallback in rows:
        if is_fallback:
            unused.append(algorithm)
        else:
            counts[algorithm] = int(n)
    return counts, sorted(unused)


async def claim_one_time_key(
    conn: AsyncConnection, user_id: str, device_id: str, algorithm: str
) -> tuple[str, JsonDict] | None:
    """Take one key atomically; concurrent claimers skip rows another has locked."""
    pick = (
        select(OneTimeKey.key_id)
        .where(
            OneTimeKey.user_id == user_id,
            OneTimeKey.device_id == device_id,
            OneTimeKey.algorithm == algorithm,
        )
        .order_by(OneTimeKey.key_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            delete(OneTimeKey)
            .where(
                OneTimeKey.user_id == user_id,
                OneTimeKey.device_id == device_id,
                OneTimeKey.algorithm == algorithm,
                OneTimeKey.key_id == pick,
            )
            .returning(OneTimeKey.key_id, OneTimeKey.key_json)
        )
    ).first()
    return None if row is None else (row[0], decode_dict(row[1]))


async def get_fallback_key(
    conn: AsyncConnection, user_id: str, device_id: str, algorithm: str
) -> tuple[str, str, bool] | None:
    """(key id, canonical JSON, used) of the device's fallback key for `algorithm`."""
    row = (
        await conn.execute(
            select(FallbackKey.key_id, FallbackKey.key_json, FallbackKey.used).where(
                FallbackKey.user_id == user_id,
                FallbackKey.device_id == device_id,
                FallbackKey.algorithm == algorithm,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1], bool(row[2]))


async def set_fallback_key(
    conn: AsyncConnection, user_id: str, device_id: str, algorithm: str, key_id: str, raw: str
) -> None:
    await upsert(
        conn,
        FallbackKey,
        {
            "user_id": user_id,
            "device_id": device_id,
            "algorithm": algorithm,
            "key_id": key_id,
            "key_json": raw,
            "used": False,
        },
        ("user_id", "device_id", "algorithm"),
    )


async def claim_fallback_key(
    conn: AsyncConnection, user_id: str, device_id: str, algorithm: str
) -> tuple[str, JsonDict] | None:
    """The fallback key is handed out again and again until replaced; mark it used."""
    row = (
        await conn.execute(
            update(FallbackKey)
            .where(
                FallbackKey.user_id == user_id,
                FallbackKey.device_id == device_id,
                FallbackKey.algorithm == algorithm,
            )
            .values(used=True)
            .returning(FallbackKey.key_id, FallbackKey.key_json)
        )
    ).first()
    return None if row is None else (row[0], decode_dict(row[1]))


# --- cross-signing keys and signatures -----------------------------------------------------


async def list_cross_signing_keys(
    conn: AsyncConnection, user_ids: Sequence[str]
) -> dict[str, dict[str, JsonDict]]:
    """user → key type → key object."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        select(CrossSigningKey.user_id, CrossSigningKey.key_type, CrossSigningKey.key_json).where(
            CrossSigningKey.user_id.in_(list(user_ids))
        )
    )
    out: dict[str, dict[str, JsonDict]] = {}
    for user_id, key_type, raw in rows:
        out.setdefault(user_id, {})[key_type] = decode_dict(raw)
    return out


async def set_cross_signing_key(
    conn: AsyncConnection, user_id: str, key_type: str, key: JsonDict
) -> None:
    await upsert(
        conn,
        CrossSigningKey,
        {"user_id": user_id, "key_type": key_type, "key_json": encode_canonical(key).decode()},
        ("user_id", "key_type"),
    )


async def list_signatures(
    conn: AsyncConnection, target_user_ids: Sequence[str]
) -> list[SignatureRow]:
    if not target_user_ids:
        return []
    rows = await conn.execute(
        select(
            KeySignature.target_user_id,
            KeySignature.target_key_id,
            KeySignature.signer_user_id,
            KeySignature.signer_key_id,
            KeySignature.signature,
        ).where(KeySignature.target_user_id.in_(list(target_user_ids)))
    )
    return [SignatureRow(*r) for r in rows]


async def set_signature(conn: AsyncConnection, row: SignatureRow) -> None:
    await upsert(
        conn,
        KeySignature,
        {
            "target_user_id": row.target_user_id,
            "target_key_id": row.target_key_id,
            "signer_user_id": row.signer_user_id,
            "signer_key_id": row.signer_key_id,
            "signature": row.signature,
        },
        ("target_user_id", "target_key_id", "signer_user_id", "signer_key_id"),
    )


async def delete_signatures_of(conn: AsyncConnection, user_id: str, key_ids: Sequence[str]) -> None:
    """Signatures on keys that were replaced or deleted no longer mean anything."""
    await conn.execute(
        delete(KeySignature).where(
            KeySignature.target_user_id == user_id, KeySignature.target_key_id.in_(list(key_ids))
        )
    )


async def delete_signatures_by(conn: AsyncConnection, user_id: str) -> None:
    """Signatures made with a user's old cross-signing keys, when those are replaced."""
    await conn.execute(delete(KeySignature).where(KeySignature.signer_user_id == user_id))


# --- device deletion -----------------------------------------------------------------------


async def delete_device_keys(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str]
) -> None:
    """Everything a deleted device published: its keys, one-time and fallback keys."""
    for model in (DeviceKeys, OneTimeKey, FallbackKey):
        await conn.execute(
            delete(model).where(model.user_id == user_id, model.device_id.in_(list(device_ids)))
        )
    await delete_signatures_of(conn, user_id, device_ids)


# --- device-list changes -------------------------------------------------------------------


async def add_device_list_change(conn: AsyncConnection, user_id: str, pos: int) -> None:
    await conn.execute(insert(DeviceListChange).values(user_id=user_id, stream_pos=pos))


@dataclass(frozen=True, slots=True)
class WindowChanges:
    """What happened in (after, upto] that can change what a user must know of keys."""

    key_changes: set[str]
    # (room id, user id, membership) of current memberships changed in the window, in the
    # rooms the user is or was in.
    memberships: list[tuple[str, str, str]]


async def list_window_changes(
    conn: AsyncConnection, user_id: str, after: int, upto: int
) -> WindowChanges:
    """Only the device-list part of the /sync statement (for /keys/changes): no device is
    named and the to-device window is empty, so the other parts read nothing."""
    rows = await list_sync_rows(conn, user_id, "", after=after, delivered=upto, upto=upto, limit=0)
    return rows.window


async def list_users_sharing_rooms(conn: AsyncConnection, user_id: str) -> set[str]:
    """Users joined to a room the user is joined to (the user included)."""
    mine = select(RoomMembership.room_id).where(
        RoomMembership.user_id == user_id, RoomMembership.membership == "join"
    )
    rows = await conn.execute(
        select(RoomMembership.user_id)
        .where(RoomMembership.room_id.in_(mine), RoomMembership.membership == "join")
        .distinct()
    )
    return {r[0] for r in rows}


async def list_joined_members(conn: AsyncConnection, room_ids: Sequence[str]) -> set[str]:
    if not room_ids:
        return set()
    rows = await conn.execute(
        select(RoomMembership.user_id)
        .where(RoomMembership.room_id.in_(list(room_ids)), RoomMembership.membership == "join")
        .distinct()
    )
    return {r[0] for r in rows}


# --- the E2EE part of /sync, in one round trip ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncKeyRows:
    """Everything the E2EE part of one /sync response reads."""

    # (stream position, sender, type, content JSON) of pending to-device messages.
    to_device: list[tuple[int, str, str, str]]
    window: WindowChanges
    one_time_key_counts: dict[str, int]
    unused_fallback_key_types: list[str]


def _build_sync_statement() -> Any:  # Any: a SQLAlchemy CompoundSelect
    """Four reads as one UNION ALL, built once: it runs on every /sync.

    Columns: kind, a, b, c, n. Kind 0 is a pending to-device message (sender, type,
    content, position), 1 a device-list change (user), 2 a membership changed in one of
    the user's rooms (user, room, membership), 3 a one-time key count (algorithm, count),
    4 an unused fallback key (algorithm).
    """
    user = bindparam("user_id", type_=String)
    device = bindparam("device_id", type_=String)
    after = bindparam("after", type_=BigInteger)
    upto = bindparam("upto", type_=BigInteger)
    pending = (
        select(
            ToDeviceMessage.sender.label("a"),
            ToDeviceMessage.type.label("b"),
            ToDeviceMessage.content.label("c"),
            ToDeviceMessage.stream_pos.label("n"),
        )
        .where(
            ToDeviceMessage.user_id == user,
            ToDeviceMessage.device_id == device,
            ToDeviceMessage.stream_pos > bindparam("delivered", type_=BigInteger),
            ToDeviceMessage.stream_pos <= upto,
        )
        .order_by(ToDeviceMessage.stream_pos)
        .limit(bindparam("limit", type_=Integer))
        .subquery()
    )
    empty = literal("")
    my_rooms = select(RoomMembership.room_id).where(RoomMembership.user_id == user)
    return union_all(
        select(literal(0).label("kind"), pending.c.a, pending.c.b, pending.c.c, pending.c.n),
        select(literal(1), DeviceListChange.user_id, empty, empty, literal(0)).where(
            DeviceListChange.stream_pos > after, DeviceListChange.stream_pos <= upto
        ),
        select(
            literal(2),
            RoomMembership.user_id,
            RoomMembership.room_id,
            RoomMembership.membership,
            literal(0),
        ).where(
            RoomMembership.room_id.in_(my_rooms),
            RoomMembership.stream_pos > after,
            RoomMembership.stream_pos <= upto,
        ),
        select(literal(3), OneTimeKey.algorithm, empty, empty, func.count())
        .where(OneTimeKey.user_id == user, OneTimeKey.device_id == device)
        .group_by(OneTimeKey.algorithm),
        select(literal(4), FallbackKey.algorithm, empty, empty, literal(0)).where(
            FallbackKey.user_id == user,
            FallbackKey.device_id == device,
            FallbackKey.used.is_(False),
        ),
    )


_SYNC_STATEMENT = _build_sync_statement()


async def list_sync_rows(
    conn: AsyncConnection,
    user_id: str,
    device_id: str,
    *,
    after: int,
    delivered: int,
    upto: int,
    limit: int,
) -> SyncKeyRows:
    """Device-list changes in (after, upto], to-device messages in (delivered, upto]."""
    rows = await conn.execute(
        _SYNC_STATEMENT,
        {
            "user_id": user_id,
            "device_id": device_id,
            "after": after,
            "delivered": delivered,
            "upto": upto,
            "limit": limit,
        },
    )
    to_device: list[tuple[int, str, str, str]] = []
    key_changes: set[str] = set()
    memberships: list[tuple[str, str, str]] = []
    counts: dict[str, int] = {}
    unused: list[str] = []
    for kind, a, b, c, n in rows:
        if kind == 0:
            to_device.append((int(n), a, b, c))
        elif kind == 1:
            key_changes.add(a)
        elif kind == 2:
            memberships.append((b, a, c))
        elif kind == 3:
            counts[a] = int(n)
        else:
            unused.append(a)
    to_device.sort()
    return SyncKeyRows(to_device, WindowChanges(key_changes, memberships), counts, sorted(unused))
