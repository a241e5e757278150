"""What other matrix domains may read or write of a user's devices, on the caller's connection.

The devices domain owns the device rows (`devices/repository.py`, kept private by an
import-linter contract). A login creates its device in the accounts transaction that
mints the token, and a to-device send checks its targets in the persister's work item,
so these functions take the caller's connection and join its transaction.
"""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.matrix.devices import repository as repo


async def add_device(
    conn: AsyncConnection, user_id: str, device_id: str, display_name: str | None, ts: int
) -> None:
    """Create the device a login signs in as (or refresh a known one's name and last seen)."""
    await repo.set_device(conn, user_id, device_id, display_name, ts)


async def device_ids(conn: AsyncConnection, user_id: str) -> list[str]:
    return await repo.list_device_ids(conn, user_id)


async def existing_devices(
    conn: AsyncConnection, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (user id, device id) pairs among `pairs` that name a device."""
    return await repo.list_existing_devices(conn, pairs)


async def devices_last_seen(conn: AsyncConnection, user_id: str) -> list[tuple[str, int | None]]:
    """(device id, last seen) of each of the user's devices (`/admin/whois`)."""
    return [
        (device_id, last_seen) for device_id, _, last_seen in await repo.list_devices(conn, user_id)
    ]
