"""The one write another matrix domain makes to the key backup's rows, on its connection.

Deactivating an account (`matrix/deactivation/service.py`) deletes its server-side key
backup in the same transaction as its devices and keys: the backup is encrypted, but it
is the person's, and no one can use it any more.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.room_keys import repository as repo


async def delete_backups(conn: AsyncConnection, user_id: str) -> None:
    await repo.delete_all_of(conn, user_id)
