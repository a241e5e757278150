"""History visibility against a user's membership history (pure; positions are stream order)."""

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from candor.matrix.constants import HistoryVisibility, Membership
from candor.matrix.rooms.visibility import VisibilityContext

JOIN, INVITE, LEAVE, BAN = Membership.JOIN, Membership.INVITE, Membership.LEAVE, Membership.BAN


def ctx(memberships: Sequence[tuple[int, str]], visibility: str | None = None) -> VisibilityContext:
    """A user with `memberships`; the room's visibility set at position 1 (if given)."""
    return VisibilityContext(memberships, [(1, visibility)] if visibility else [])


def visible(context: VisibilityContext, positions: range) -> list[int]:
    return [p for p in positions if context.is_visible(p)]


# Invited at 10, joined at 20, left at 30; events at every position 2..40.
HISTORY = [(10, INVITE), (20, JOIN), (30, LEAVE)]
EVENTS = range(2, 41)


def test_joined_sees_only_while_joined_plus_own_membership_events() -> None:
    assert visible(ctx(HISTORY, HistoryVisibility.JOINED), EVENTS) == [10, *range(20, 31)]


def test_invited_sees_from_the_invite_until_leaving() -> None:
    assert visible(ctx(HISTORY, HistoryVisibility.INVITED), EVENTS) == list(range(10, 31))


def test_shared_sees_everything_before_joining_but_nothing_after_leaving() -> None:
    assert visible(ctx(HISTORY, HistoryVisibility.SHARED), EVENTS) == list(range(2, 31))


def test_world_readable_sees_everything_even_without_membership() -> None:
    assert visible(ctx([], HistoryVisibility.WORLD_READABLE), EVENTS) == list(EVENTS)
    assert visible(ctx(HISTORY, HistoryVisibility.WORLD_READABLE), EVENTS) == list(EVENTS)


def test_default_visibility_is_shared() -> None:
    assert visible(ctx(HISTORY), EVENTS) == visible(ctx(HISTORY, HistoryVisibility.SHARED), EVENTS)


def test_shared_history_shows_an_invitee_only_what_followed_the_invite() -> None:
    # As in Synapse: shared is never narrower than invited; earlier history needs a join.
    context = ctx([(10, INVITE)], HistoryVisibility.SHARED)
    assert visible(context, EVENTS) == [e for e in EVENTS if e >= 10]


def test_user_with_no_membership_sees_nothing_unless_world_readable() -> None:
    for vis in (HistoryVisibility.SHARED, HistoryVisibility.INVITED, HistoryVisibility.JOINED):
        assert visible(ctx([], vis), EVENTS) == []


def test_unknown_visibility_value_hides_history_from_non_members() -> None:
    context = ctx(HISTORY, "bogus")
    assert visible(context, EVENTS) == [10, *range(20, 31)]


def test_rejoining_restores_visibility_from_the_new_join() -> None:
    context = ctx([(10, JOIN), (20, LEAVE), (30, JOIN)], HistoryVisibility.JOINED)
    assert visible(context, range(5, 40)) == [*range(10, 21), *range(30, 40)]


def test_shared_after_rejoin_includes_the_gap_while_away() -> None:
    context = ctx([(10, JOIN), (20, LEAVE), (30, JOIN)], HistoryVisibility.SHARED)
    assert visible(context, range(5, 40)) == list(range(5, 40))


def test_banned_user_does_not_see_shared_history_from_the_ban() -> None:
    context = ctx([(10, JOIN), (20, BAN), (25, LEAVE), (30, JOIN)], HistoryVisibility.SHARED)
    assert 22 not in visible(context, range(5, 40))
    assert 27 in visible(context, range(5, 40))


def test_visibility_in_force_is_the_one_before_the_event() -> None:
    # joined -> world_readable at position 15: the change event itself is judged by `joined`.
    context = VisibilityContext([], [(1, HistoryVisibility.JOINED), (15, "world_readable")])
    assert not context.is_visible(15)
    assert context.is_visible(16)
    assert not context.is_visible(14)


def test_visibility_change_applies_only_going_forward() -> None:
    # world_readable until 20, then joined; a user who joins at 30 sees the early history.
    context = VisibilityContext(
        [(30, JOIN)], [(1, HistoryVisibility.WORLD_READABLE), (20, HistoryVisibility.JOINED)]
    )
    assert visible(context, range(2, 35)) == [*range(2, 21), *range(30, 35)]


def test_own_leave_and_ban_are_visible_even_under_joined() -> None:
    context = ctx([(10, JOIN), (20, LEAVE), (25, BAN)], HistoryVisibility.JOINED)
    assert context.is_visible(20)
    assert context.is_visible(25)
    assert not context.is_visible(21)


def test_visible_at_all_needs_an_invite_join_or_world_readable() -> None:
    assert ctx([(10, INVITE)]).is_visible_at_all()
    assert ctx([(10, JOIN), (20, LEAVE)]).is_visible_at_all()
    assert ctx([], HistoryVisibility.WORLD_READABLE).is_visible_at_all()
    assert not ctx([]).is_visible_at_all()
    assert not ctx([(10, LEAVE), (20, BAN)], HistoryVisibility.SHARED).is_visible_at_all()


# --- properties --------------------------------------------------------------------------

_memberships = st.lists(
    st.tuples(st.integers(1, 60), st.sampled_from([JOIN, INVITE, LEAVE, BAN])), max_size=6
).map(lambda ms: sorted(dict(ms).items()))
_visibility = st.sampled_from(list(HistoryVisibility))
_rank = {
    HistoryVisibility.JOINED: 0,
    HistoryVisibility.INVITED: 1,
    HistoryVisibility.SHARED: 2,
    HistoryVisibility.WORLD_READABLE: 3,
}


@given(memberships=_memberships, vis=_visibility, pos=st.integers(1, 70))
def test_joined_members_always_see_events_sent_while_joined(
    memberships: list[tuple[int, str]], vis: str, pos: int
) -> None:
    current = [m for p, m in memberships if p <= pos]
    if current and current[-1] == JOIN:
        assert ctx(memberships, vis).is_visible(pos)


@given(memberships=_memberships, a=_visibility, b=_visibility, pos=st.integers(2, 70))
def test_more_open_visibility_never_shows_less(
    memberships: list[tuple[int, str]], a: str, b: str, pos: int
) -> None:
    lo, hi = sorted((a, b), key=lambda v: _rank[HistoryVisibility(v)])
    if ctx(memberships, lo).is_visible(pos):
        assert ctx(memberships, hi).is_visible(pos)


@given(memberships=_memberships, vis=_visibility, pos=st.integers(2, 70))
def test_nothing_is_visible_to_a_user_who_could_never_see_the_room(
    memberships: list[tuple[int, str]], vis: str, pos: int
) -> None:
    context = ctx(memberships, vis)
    if not context.is_visible_at_all() and pos not in dict(memberships):
        assert not context.is_visible(pos)


@given(memberships=_memberships, vis=_visibility)
def test_a_user_always_sees_their_own_membership_events(
    memberships: list[tuple[int, str]], vis: str
) -> None:
    context = ctx(memberships, vis)
    assert all(context.is_visible(p) for p, _ in memberships)
