"""The one write another matrix domain makes to the keys domain's rows, on its connection.

When a device is deleted (`devices/service.py`), everything it published goes in the
same transaction: its device keys, one-time and fallback keys and the signatures on
them. The keys repository stays private to this domain (an import-linter contract).
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.keys import repository as repo


async def delete_device_keys(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str]
) -> None:
    await repo.delete_device_keys(conn, user_id, device_ids)


async def delete_user_keys(conn: AsyncConnection, user_id: str) -> None:
    """A deactivated account's every key (`matrix/deactivation/service.py`)."""
    await repo.delete_user_keys(conn, user_id)
