"""SQL for device rows: each login is one device, listed, renamed and deleted here.

Access tokens are the accounts domain's rows and a device's keys the keys domain's; a
device's deletion reaches them through their `facts` modules, in the same transaction.
"""

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.accounts import Device


async def set_device(
    conn: AsyncConnection, user_id: str, device_id: str, display_name: str | None, ts: int
) -> None:
    existing = await conn.scalar(
        select(Device.device_id).where(Device.user_id == user_id, Device.device_id == device_id)
    )
    if existing is None:
        await conn.execute(
            insert(Device).values(
                user_id=user_id,
                device_id=device_id,
                display_name=display_name,
                created_ts=ts,
                last_seen_ts=ts,
            )
        )
    elif display_name is not None:
        await conn.execute(
            update(Device)
            .where(Device.user_id == user_id, Device.device_id == device_id)
            .values(display_name=display_name, last_seen_ts=ts)
        )


async def delete_devices(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> None:
    """Delete device rows; `None` means every device of the user (tokens: accounts/)."""
    devices = delete(Device).where(Device.user_id == user_id)
    if device_ids is not None:
        devices = devices.where(Device.device_id.in_(device_ids))
    await conn.execute(devices)


async def list_devices(
    conn: AsyncConnection, user_id: str
) -> list[tuple[str, str | None, int | None]]:
    """(device id, display name, last seen ts) of the user's devices."""
    rows = await conn.execute(
        select(Device.device_id, Device.display_name, Device.last_seen_ts)
        .where(Device.user_id == user_id)
        .order_by(Device.device_id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def set_device_display_name(
    conn: AsyncConnection, user_id: str, device_id: str, display_name: str
) -> None:
    await conn.execute(
        update(Device)
        .where(Device.user_id == user_id, Device.device_id == device_id)
        .values(display_name=display_name)
    )


async def list_device_ids(conn: AsyncConnection, user_id: str) -> list[str]:
    rows = await conn.execute(select(Device.device_id).where(Device.user_id == user_id))
    return [r[0] for r in rows]


async def list_existing_devices(
    conn: AsyncConnection, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    pairs = list(pairs)
    if not pairs:
        return set()
    rows = await conn.execute(
        select(Device.user_id, Device.device_id).where(
            or_(*(and_(Device.user_id == u, Device.device_id == d) for u, d in pairs))
        )
    )
    return {(r[0], r[1]) for r in rows}
