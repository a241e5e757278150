"""What other domains may read about an account, and the writes they make, on the
caller's connection.

The accounts repository is this domain's own (an import-linter contract keeps it so);
a reader elsewhere (a partner app's `profile` scope, a room's member event, /sync's
account data) comes through here, and its read joins the caller's transaction, so it
sees the same snapshot as the caller's other reads. Deleting a device
(`devices/service.py`) ends its access tokens in the same transaction, and a read marker
(`rooms/receipts.py`) is stored as room account data inside the persister's work item.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import repository as repo


async def profile(conn: AsyncConnection, user_id: str) -> JsonDict | None:
    """The public profile (`displayname`, `avatar_url` where set) of a live account, or
    None for an unknown or deactivated one."""
    user = await repo.get_user(conn, user_id)
    if user is None or user.deactivated:
        return None
    out: JsonDict = {}
    if user.displayname is not None:
        out["displayname"] = user.displayname
    if user.avatar_url is not None:
        out["avatar_url"] = user.avatar_url
    return out


async def display_names(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, str]:
    """The display names these live accounts set, in one query (an unset name is absent)."""
    return await repo.get_displaynames(conn, user_ids)


async def user_exists(conn: AsyncConnection, user_id: str) -> bool:
    """Whether an account with this id was ever registered (deactivated ones included)."""
    return await repo.get_user(conn, user_id) is not None


async def account_data_changes(
    conn: AsyncConnection, user_id: str, *, after: int, upto: int
) -> list[tuple[str, str, JsonDict]]:
    """(room_id, type, content) of the user's account data changed in (after, upto];
    room_id '' is global."""
    return await repo.list_account_data(conn, user_id, after=after, upto=upto)


async def set_account_data(
    conn: AsyncConnection, user_id: str, room_id: str, data_type: str, content: JsonDict, pos: int
) -> None:
    """Store one account data item at stream position `pos` (room_id '' is global)."""
    await repo.set_account_data(conn, user_id, room_id, data_type, content, pos)


async def delete_tokens(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> None:
    """End the access tokens of the user's given devices (None: all of them)."""
    await repo.delete_tokens(conn, user_id, device_ids)


async def deactivate(conn: AsyncConnection, user_id: str) -> bool:
    """Deactivate the account in the caller's transaction (`matrix/deactivation/`): the
    flag, and everything the account kept about itself goes (`repository.deactivate_user`).
    False when it was deactivated already."""
    return await repo.deactivate_user(conn, user_id)


async def is_locked(conn: AsyncConnection, user_id: str) -> bool:
    """Whether an administrator locked the account (partner tokens stop while it is)."""
    return await repo.is_locked(conn, user_id)
