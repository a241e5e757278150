"""What other sub-packages may do with presence: forget a person's (account erasure).

Why a write here: deactivating or erasing an account (the account life cycle) must not
leave behind when the person was last active or their status message. Deleting the row
takes no stream position: the person then reads as offline to everyone, and room-mates'
clients see it from `last_active_ago` or their next initial sync.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.presence import repository as repo


async def forget_presence(conn: AsyncConnection, user_id: str) -> bool:
    """Delete the person's presence in the caller's transaction; whether there was any."""
    return await repo.delete_presence(conn, user_id)
