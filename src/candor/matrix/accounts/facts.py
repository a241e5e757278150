"""What other domains may read about an account, and the one write they make, on the
caller's connection.

The accounts repository is this domain's own (an import-linter contract keeps it so);
a reader elsewhere (a partner app's `profile` scope) comes through here, and its read
joins the caller's transaction, so it sees the same snapshot as the caller's other reads.
Deleting a device (`devices/service.py`) ends its access tokens in the same transaction.
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


async def delete_tokens(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> None:
    """End the access tokens of the user's given devices (None: all of them)."""
    await repo.delete_tokens(conn, user_id, device_ids)
