"""What /sync reads about push on its own snapshot: unread counts and the `m.push_rules`
content. (The push repository is this domain's own; an import-linter contract keeps it so.)
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.push import repository as repo
from candor.matrix.push.rules import merge_ruleset

PUSH_RULES = "m.push_rules"


async def unread_counts(conn: AsyncConnection, room_id: str, user_id: str) -> JsonDict:
    """A joined room's `unread_notifications`: notifications and highlights after the
    user's read position (see `repository.count_unread`)."""
    notifications, highlights = await repo.count_unread(conn, room_id, user_id)
    return {"notification_count": notifications, "highlight_count": highlights}


async def unread_counts_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str
) -> dict[str, JsonDict]:
    """`unread_counts` of many rooms in one statement (an initial /sync)."""
    counts = await repo.count_unread_of_rooms(conn, room_ids, user_id)
    return {
        room_id: {"notification_count": n, "highlight_count": h}
        for room_id, (n, h) in counts.items()
    }


async def push_rules_content(conn: AsyncConnection, user_id: str) -> JsonDict:
    """The `m.push_rules` account data content: the user's whole ruleset as it is now
    (so a client sees the server's current defaults, whenever the row was written)."""
    rules, settings = await repo.list_rules(conn, [user_id])
    return {"global": merge_ruleset(user_id, rules.get(user_id, []), settings.get(user_id, []))}
