"""What /sync reads about push on its own snapshot: unread counts and the `m.push_rules`
content. (The push repository is this domain's own; an import-linter contract keeps it so.)
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.matrix.push import counting
from candor.matrix.push import repository as repo
from candor.matrix.push.counting import Unread as Unread
from candor.matrix.push.counting import WindowNotifications as WindowNotifications
from candor.matrix.push.rules import merge_ruleset

PUSH_RULES = "m.push_rules"


async def unread_counts(
    conn: AsyncConnection, room_id: str, user_id: str, upto: int = counting.NOW
) -> Unread:
    """A joined room's notifications and highlights after the user's read positions, up to
    stream position `upto` (see `counting.py`)."""
    return await counting.count_unread(conn, room_id, user_id, upto)


def as_sync_counts(unread: Unread, by_thread: bool) -> JsonDict:
    """A /sync room's `unread_notifications`, and `unread_thread_notifications` when its
    filter asked for them (then the former counts the main timeline only)."""

    def counts(n: int, h: int) -> JsonDict:
        return {
            "notification_count": min(n, counting.MAX_COUNT),
            "highlight_count": min(h, counting.MAX_COUNT),
        }

    if not by_thread:
        return {"unread_notifications": counts(*unread.total())}
    return {
        "unread_notifications": counts(*unread.main),
        "unread_thread_notifications": {
            root: counts(*c) for root, c in sorted(unread.threads.items())
        },
    }


async def window_notifications(conn: AsyncConnection, after: int, upto: int) -> WindowNotifications:
    """Every notification row in (after, upto], read once for all the long-polls that
    stretch wakes (`counting.WindowNotifications.counted` gives each one's share)."""
    return await counting.window_notifications(conn, after, upto)


async def unread_counts_of_rooms(
    conn: AsyncConnection, room_ids: Sequence[str], user_id: str
) -> dict[str, Unread]:
    """`unread_counts` of many rooms in one statement (an initial /sync)."""
    return await counting.count_unread_of_rooms(conn, room_ids, user_id)


async def push_rules_content(conn: AsyncConnection, user_id: str) -> JsonDict:
    """The `m.push_rules` account data content: the user's whole ruleset as it is now
    (so a client sees the server's current defaults, whenever the row was written)."""
    rules, settings = await repo.list_rules(conn, [user_id])
    return {"global": merge_ruleset(user_id, rules.get(user_id, []), settings.get(user_id, []))}
