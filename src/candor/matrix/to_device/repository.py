"""SQL for to-device messages and their transaction ids."""

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.keys import ToDeviceMessage, ToDeviceTxn


async def has_txn(conn: AsyncConnection, user_id: str, device_id: str, txn_id: str) -> bool:
    found = await conn.scalar(
        select(ToDeviceTxn.txn_id).where(
            ToDeviceTxn.user_id == user_id,
            ToDeviceTxn.device_id == device_id,
            ToDeviceTxn.txn_id == txn_id,
        )
    )
    return found is not None


async def add_txn(
    conn: AsyncConnection, user_id: str, device_id: str, txn_id: str, ts: int
) -> None:
    """The primary key refuses a second use of the id (the retry race)."""
    await conn.execute(
        insert(ToDeviceTxn).values(user_id=user_id, device_id=device_id, txn_id=txn_id, ts=ts)
    )


async def add_messages(
    conn: AsyncConnection,
    rows: Sequence[tuple[str, str, str]],
    *,
    pos: int,
    sender: str,
    event_type: str,
) -> None:
    """(user id, device id, canonical JSON content) rows, all at one stream position."""
    if rows:
        await conn.execute(
            insert(ToDeviceMessage),
            [
                {
                    "user_id": user_id,
                    "device_id": device_id,
                    "stream_pos": pos,
                    "sender": sender,
                    "type": event_type,
                    "content": raw,
                }
                for user_id, device_id, raw in rows
            ],
        )


async def delete_delivered(conn: AsyncConnection, user_id: str, device_id: str, upto: int) -> None:
    await conn.execute(
        delete(ToDeviceMessage).where(
            ToDeviceMessage.user_id == user_id,
            ToDeviceMessage.device_id == device_id,
            ToDeviceMessage.stream_pos <= upto,
        )
    )


async def delete_for_devices(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> None:
    """A deleted device's undelivered messages and transaction ids; None means all devices."""
    for model in (ToDeviceMessage, ToDeviceTxn):
        stmt = delete(model).where(model.user_id == user_id)
        if device_ids is not None:
            stmt = stmt.where(model.device_id.in_(list(device_ids)))
        await conn.execute(stmt)
