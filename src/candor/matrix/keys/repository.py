"""SQL for device keys, one-time and fallback keys, cross-signing keys and signatures.

Key objects are stored as the canonical JSON the client signed. Races are closed by
constraints: the one_time_keys primary key refuses a duplicate key id, and a claim is one
atomic `DELETE … RETURNING` whose row is picked with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite runs writers one at a time), so a key is never handed out twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    and_,
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
)


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


async def delete_user_keys(conn: AsyncConnection, user_id: str) -> None:
    """Every key a deactivated account published: devices' keys, cross-signing keys, and
    the signatures on them and made by them."""
    for model in (DeviceKeys, OneTimeKey, FallbackKey, CrossSigningKey):
        await conn.execute(delete(model).where(model.user_id == user_id))
    await conn.execute(delete(KeySignature).where(KeySignature.target_user_id == user_id))
    await delete_signatures_by(conn, user_id)


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


async def list_device_list_changes(conn: AsyncConnection, after: int, upto: int) -> set[str]:
    """Users whose devices or keys changed in (after, upto]."""
    rows = await conn.execute(
        select(DeviceListChange.user_id).where(
            DeviceListChange.stream_pos > after, DeviceListChange.stream_pos <= upto
        )
    )
    return {r[0] for r in rows}
