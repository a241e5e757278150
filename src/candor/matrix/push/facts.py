"""What /sync reads about push on its own snapshot: unread counts and the `m.push_rules`
content. (The push repository is this domain's own; an import-linter contract keeps it so.)
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.push import repository as repo
from candor.matrix.push.repository import WindowNotifications as WindowNotifications
from candor.matrix.push.rules import merge_ruleset

PUSH_RULES = "m.push_rules"


async def unread_counts(
    conn: AsyncConnection, room_id: str, user_id: str, upto: int = repo.NOW
) -> tuple[int, int]:
    """A joined room's notifications and highlights after the user's read position, up to
    stream position `upto` (see `repository.count_unread`)."""
    return await repo.count_unread(conn, room_id, user_id, upto)


def as_unread_notifications(counts: tuple[int, int]) -> JsonDict:
    """`unread_notifications` of a /sync room: counts as `unread_counts` returns them."""
    notifications, highlights = counts
    return {
        "notification_count": min(notifications, repo.MAX_COUNT),
        "highlight_count": min(highlights, repo.MAX_COUNT),
    }


async def window_notifications(
    conn: AsyncConnection, after: int, upto: int
) -> repo.WindowNotifications:
    """Every notification row in (after, upto], read once for all the long-polls that
    stretch wakes (`repository.WindowNotifications.counted` gives each one's share)."""
    return await repo.window_notifications(conn, after, upto)


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
