"""The writes other matrix domains make to pending to-device messages, on their connection.

A deleted device's undelivered messages go with it (`devices/service.py`), and /sync
deletes what a client acknowledged (`sync/e2ee.py`). The to-device repository stays
private to this domain (an import-linter contract).
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.to_device import repository as repo


async def delete_for_devices(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str]
) -> None:
    await repo.delete_for_devices(conn, user_id, device_ids)


async def delete_delivered(conn: AsyncConnection, user_id: str, device_id: str, upto: int) -> None:
    """The device's messages up to stream position `upto`: the client has them now."""
    await repo.delete_delivered(conn, user_id, device_id, upto)
