"""The people-search query: who matches a term, and whom the searcher may find.

It reads the tables of three domains (the profile terms of accounts, memberships and
rooms' public rules of rooms), as one statement built once; like /sync's E2EE query it
is this feature's statement, not any one domain's, so it lives here.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from candor.matrix.accounts.search_terms import TermKind
from candor.matrix.constants import HistoryVisibility, JoinRule, Membership
from candor.store.models.accounts import User, UserSearchTerm
from candor.store.models.rooms import Room, RoomMembership


@dataclass(frozen=True, slots=True)
class Found:
    user_id: str
    displayname: str | None
    avatar_url: str | None


def _build_search() -> Any:  # Any: a SQLAlchemy Select
    """Matching terms (one range of the primary key), ranked, cut to the findable.

    Rank: 0 the whole name or the user id exactly, 1 a prefix of the name, 2 of a later
    word of it, 3 of the user id; then people who share a room with the searcher first.
    Findable: the searcher, whoever shares a joined room with them, and whoever is
    joined to a room anyone may join or read (join rule `public`, or history
    `world_readable`: the spec's minimum); never a deactivated account.
    """
    me = bindparam("me", type_=String)
    term = UserSearchTerm.term
    kind = UserSearchTerm.kind
    rank = case(
        (and_(term == bindparam("exact", type_=String), kind != TermKind.NAME_WORD), 0),
        (kind == TermKind.NAME, 1),
        (kind == TermKind.NAME_WORD, 2),
        else_=3,
    )
    matched = (
        select(UserSearchTerm.user_id.label("user_id"), func.min(rank).label("rank"))
        .where(term >= bindparam("low", type_=String), term < bindparam("high", type_=String))
        .group_by(UserSearchTerm.user_id)
        .subquery()
    )
    mine = aliased(RoomMembership)
    theirs = aliased(RoomMembership)
    shares_a_room = exists(
        select(1)
        .select_from(theirs)
        .join(mine, and_(mine.room_id == theirs.room_id, mine.user_id == me))
        .where(
            theirs.user_id == matched.c.user_id,
            theirs.membership == Membership.JOIN,
            mine.membership == Membership.JOIN,
        )
    )
    in_a_public_room = exists(
        select(1)
        .select_from(RoomMembership)
        .join(Room, Room.room_id == RoomMembership.room_id)
        .where(
            RoomMembership.user_id == matched.c.user_id,
            RoomMembership.membership == Membership.JOIN,
            or_(
                Room.join_rule == JoinRule.PUBLIC,
                Room.history_visibility == HistoryVisibility.WORLD_READABLE,
            ),
        )
    )
    return (
        select(matched.c.user_id, User.displayname, User.avatar_url)
        .join(User, User.user_id == matched.c.user_id)
        .where(
            User.deactivated.is_(False),
            or_(matched.c.user_id == me, shares_a_room, in_a_public_room),
        )
        .order_by(
            matched.c.rank,
            case((shares_a_room, 0), else_=1),
            User.displayname.is_(None),
            matched.c.user_id,
        )
        .limit(bindparam("limit", type_=Integer))
    )


# Public so a test can check its plan on both engines (tests/matrix/user_directory).
SEARCH_USERS = _build_search()


async def search_users(
    conn: AsyncConnection, searcher: str, prefix: str, high: str, *, limit: int
) -> list[Found]:
    """Up to `limit` findable people with a term in [prefix, high), best first."""
    rows = await conn.execute(
        SEARCH_USERS, {"me": searcher, "exact": prefix, "low": prefix, "high": high, "limit": limit}
    )
    return [Found(r[0], r[1], r[2]) for r in rows]
