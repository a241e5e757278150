"""The pure room authorization rules: memberships, sends, power levels, redaction, pruning."""

from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, JoinRule, Membership
from candor.matrix.errors import Forbidden
from candor.matrix.rooms.rules import (
    AuthState,
    auth_state_from,
    check_membership_change,
    check_power_levels_change,
    check_redact,
    check_send,
    prune_content,
)

ADMIN = "@admin:test.local"
MOD = "@mod:test.local"
USER = "@user:test.local"
OTHER = "@other:test.local"
STRANGER = "@stranger:test.local"


def room(
    memberships: Mapping[str, str] | None = None,
    *,
    join_rule: str = JoinRule.INVITE,
    power_levels: JsonDict | None = None,
    users: Mapping[str, int] | None = None,
) -> AuthState:
    """A room created by ADMIN (100) with MOD at 50; everyone else at users_default 0."""
    if power_levels is None:
        power_levels = {"users": dict(users or {ADMIN: 100, MOD: 50})}
    joined = {ADMIN: Membership.JOIN, MOD: Membership.JOIN, USER: Membership.JOIN}
    return AuthState(ADMIN, power_levels, join_rule, {**joined, **(memberships or {})})


def allowed(fn: Callable[..., None], *args: object) -> bool:
    try:
        fn(*args)
    except Forbidden:
        return False
    return True


# --- AuthState levels -------------------------------------------------------------------


def test_without_power_levels_creator_is_100_and_others_0() -> None:
    state = AuthState(ADMIN, None, JoinRule.INVITE)
    assert state.user_level(ADMIN) == 100
    assert state.user_level(USER) == 0
    assert state.level("invite") == 0
    assert state.level("ban") == 50
    assert state.event_level("m.room.name", True) == 0


def test_users_default_applies_to_unlisted_users() -> None:
    state = room(power_levels={"users": {ADMIN: 100}, "users_default": 7})
    assert state.user_level(USER) == 7
    assert state.user_level(ADMIN) == 100


def test_malformed_levels_fall_back_to_defaults() -> None:
    state = room(
        power_levels={
            "users": {USER: "nope", OTHER: True, MOD: "42"},
            "ban": [1],
            "kick": None,
            "events": {"m.room.name": {"x": 1}},
            "state_default": False,
        }
    )
    assert state.user_level(USER) == 0
    assert state.user_level(OTHER) == 0  # booleans are not levels
    assert state.user_level(MOD) == 42  # numeric strings are, as in older rooms
    assert state.level("ban") == 50
    assert state.level("kick") == 50
    assert state.event_level("m.room.name", True) == 0
    assert state.event_level("m.room.topic", True) == 50


def test_users_that_is_not_an_object_is_ignored() -> None:
    state = room(power_levels={"users": [ADMIN], "users_default": 3})
    assert state.user_level(ADMIN) == 3


def test_event_level_prefers_events_map_then_state_or_events_default() -> None:
    state = room(
        power_levels={"events": {"m.room.name": 60}, "state_default": 40, "events_default": 5}
    )
    assert state.event_level("m.room.name", True) == 60
    assert state.event_level("m.room.topic", True) == 40
    assert state.event_level("m.room.message", False) == 5


def test_unknown_membership_counts_as_leave() -> None:
    assert room().membership(STRANGER) == Membership.LEAVE


# --- joins ---------------------------------------------------------------------------


def test_join_public_room_is_allowed_for_anyone() -> None:
    check_membership_change(room(join_rule=JoinRule.PUBLIC), STRANGER, STRANGER, "join")


def test_join_invite_only_room_without_invite_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="not invited"):
        check_membership_change(room(), STRANGER, STRANGER, "join")


def test_join_invite_only_room_with_invite_is_allowed() -> None:
    check_membership_change(room({OTHER: Membership.INVITE}), OTHER, OTHER, "join")


def test_rejoin_while_joined_is_allowed() -> None:
    check_membership_change(room(), USER, USER, "join")


@pytest.mark.parametrize("rule", [JoinRule.PUBLIC, JoinRule.INVITE, JoinRule.KNOCK])
def test_banned_user_cannot_join_whatever_the_join_rule(rule: str) -> None:
    with pytest.raises(Forbidden, match="banned"):
        check_membership_change(room({OTHER: Membership.BAN}, join_rule=rule), OTHER, OTHER, "join")


def test_cannot_join_on_behalf_of_another_user() -> None:
    with pytest.raises(Forbidden, match="another user"):
        check_membership_change(room(join_rule=JoinRule.PUBLIC), ADMIN, OTHER, "join")


def test_creator_first_join_before_power_levels_is_allowed() -> None:
    state = AuthState(ADMIN, None, JoinRule.INVITE)
    check_membership_change(state, ADMIN, ADMIN, "join")


def test_non_creator_cannot_join_before_power_levels_in_invite_room() -> None:
    state = AuthState(ADMIN, None, JoinRule.INVITE)
    with pytest.raises(Forbidden):
        check_membership_change(state, OTHER, OTHER, "join")


# --- invites --------------------------------------------------------------------------


def test_member_may_invite_at_default_invite_level() -> None:
    check_membership_change(room(), USER, OTHER, "invite")


def test_invite_requires_sender_to_be_joined() -> None:
    with pytest.raises(Forbidden, match="not in this room"):
        check_membership_change(room({OTHER: Membership.INVITE}), OTHER, STRANGER, "invite")


def test_cannot_invite_a_banned_user() -> None:
    with pytest.raises(Forbidden, match="banned"):
        check_membership_change(room({OTHER: Membership.BAN}), ADMIN, OTHER, "invite")


def test_cannot_invite_a_joined_user() -> None:
    with pytest.raises(Forbidden, match="already in the room"):
        check_membership_change(room(), ADMIN, USER, "invite")


def test_invite_below_invite_level_is_forbidden() -> None:
    state = room(power_levels={"users": {ADMIN: 100}, "invite": 50})
    with pytest.raises(Forbidden, match="permission to invite"):
        check_membership_change(state, USER, OTHER, "invite")
    check_membership_change(state, ADMIN, OTHER, "invite")


def test_reinviting_an_invited_or_departed_user_is_allowed() -> None:
    check_membership_change(room({OTHER: Membership.INVITE}), ADMIN, OTHER, "invite")
    check_membership_change(room({OTHER: Membership.LEAVE}), ADMIN, OTHER, "invite")


# --- leaving and kicking ----------------------------------------------------------------


@pytest.mark.parametrize("membership", [Membership.JOIN, Membership.INVITE, Membership.KNOCK])
def test_user_may_leave_or_reject_from(membership: str) -> None:
    check_membership_change(room({OTHER: membership}), OTHER, OTHER, "leave")


@pytest.mark.parametrize("membership", [Membership.LEAVE, Membership.BAN])
def test_user_cannot_leave_when_not_in_room(membership: str) -> None:
    with pytest.raises(Forbidden, match="not in this room"):
        check_membership_change(room({OTHER: membership}), OTHER, OTHER, "leave")


def test_moderator_may_kick_a_lower_user() -> None:
    check_membership_change(room(), MOD, USER, "leave")


def test_moderator_may_revoke_an_invite() -> None:
    check_membership_change(room({OTHER: Membership.INVITE}), MOD, OTHER, "leave")


def test_kick_below_kick_level_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="permission to kick"):
        check_membership_change(room({OTHER: Membership.JOIN}), USER, OTHER, "leave")


def test_cannot_kick_a_user_of_equal_level() -> None:
    state = room(users={ADMIN: 100, MOD: 50, OTHER: 50}, memberships={OTHER: Membership.JOIN})
    with pytest.raises(Forbidden, match="not below yours"):
        check_membership_change(state, MOD, OTHER, "leave")


def test_cannot_kick_a_higher_user() -> None:
    with pytest.raises(Forbidden, match="not below yours"):
        check_membership_change(room(), MOD, ADMIN, "leave")


def test_kick_requires_sender_to_be_joined() -> None:
    state = room({MOD: Membership.LEAVE})
    with pytest.raises(Forbidden, match="not in this room"):
        check_membership_change(state, MOD, USER, "leave")


def test_cannot_kick_a_user_who_is_not_in_the_room() -> None:
    with pytest.raises(Forbidden, match="is not in the room"):
        check_membership_change(room(), ADMIN, STRANGER, "leave")


# --- bans and unbans ---------------------------------------------------------------------


def test_moderator_may_ban_a_lower_user_even_if_absent() -> None:
    check_membership_change(room(), MOD, USER, "ban")
    check_membership_change(room(), MOD, STRANGER, "ban")


def test_ban_below_ban_level_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="permission to ban"):
        check_membership_change(room(), USER, OTHER, "ban")


def test_cannot_ban_a_higher_user() -> None:
    with pytest.raises(Forbidden, match="not below yours"):
        check_membership_change(room(), MOD, ADMIN, "ban")


def test_ban_requires_sender_to_be_joined() -> None:
    with pytest.raises(Forbidden, match="not in this room"):
        check_membership_change(room({ADMIN: Membership.LEAVE}), ADMIN, USER, "ban")


def test_ban_level_from_power_levels_is_honoured() -> None:
    state = room(power_levels={"users": {ADMIN: 100, MOD: 50}, "ban": 75})
    with pytest.raises(Forbidden, match="permission to ban"):
        check_membership_change(state, MOD, USER, "ban")
    check_membership_change(state, ADMIN, USER, "ban")


def test_unban_requires_ban_level() -> None:
    state = room({OTHER: Membership.BAN})
    with pytest.raises(Forbidden, match="unban"):
        check_membership_change(state, USER, OTHER, "leave")
    check_membership_change(state, MOD, OTHER, "leave")


def test_banned_user_cannot_unban_themselves() -> None:
    with pytest.raises(Forbidden):
        check_membership_change(room({OTHER: Membership.BAN}), OTHER, OTHER, "leave")


# "knock" is served since issue 18 (tests/matrix/rooms/test_knock.py).
@pytest.mark.parametrize("membership", ["bogus", ""])
def test_unsupported_membership_values_are_forbidden(membership: str) -> None:
    with pytest.raises(Forbidden, match="not supported"):
        check_membership_change(room(join_rule=JoinRule.KNOCK), OTHER, OTHER, membership)


_levels = st.integers(min_value=-10, max_value=110)


@given(sender_level=_levels, target_level=_levels, action=st.sampled_from(["leave", "ban"]))
def test_kick_and_ban_need_a_strictly_higher_level_and_the_threshold(
    sender_level: int, target_level: int, action: str
) -> None:
    state = room(users={MOD: sender_level, OTHER: target_level}, memberships={OTHER: "join"})
    expected = sender_level >= 50 and target_level < sender_level
    assert allowed(check_membership_change, state, MOD, OTHER, action) == expected


# --- sending events ---------------------------------------------------------------------


def test_member_may_send_a_message() -> None:
    check_send(room(), USER, EventType.MESSAGE, None, {"body": "hi"})


@pytest.mark.parametrize("membership", [Membership.INVITE, Membership.LEAVE, Membership.BAN])
def test_non_member_cannot_send(membership: str) -> None:
    with pytest.raises(Forbidden, match="not in this room"):
        check_send(room({OTHER: membership}), OTHER, EventType.MESSAGE, None, {})


def test_state_needs_state_default_but_messages_do_not() -> None:
    state = room()
    with pytest.raises(Forbidden, match="permission to send"):
        check_send(state, USER, EventType.TOPIC, "", {"topic": "x"})
    check_send(state, MOD, EventType.TOPIC, "", {"topic": "x"})
    check_send(state, USER, "m.custom", None, {})


def test_events_map_overrides_defaults_both_ways() -> None:
    state = room(
        power_levels={
            "users": {ADMIN: 100, MOD: 50},
            "events": {"m.room.message": 10, EventType.TOPIC: 0},
        }
    )
    with pytest.raises(Forbidden):
        check_send(state, USER, EventType.MESSAGE, None, {})
    check_send(state, USER, EventType.TOPIC, "", {"topic": "lowered"})


def test_events_default_raises_the_bar_for_messages() -> None:
    state = room(power_levels={"users": {ADMIN: 100}, "events_default": 1})
    with pytest.raises(Forbidden):
        check_send(state, USER, "m.room.message", None, {})
    check_send(state, ADMIN, "m.room.message", None, {})


def test_state_key_that_is_another_users_id_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="user ids"):
        check_send(room(), ADMIN, "m.custom.state", MOD, {})


def test_state_key_that_is_the_senders_own_id_is_allowed() -> None:
    check_send(room(), ADMIN, "m.custom.state", ADMIN, {})


def test_sending_power_levels_applies_the_power_level_rules() -> None:
    state = room()
    with pytest.raises(Forbidden, match="above your own"):
        check_send(state, MOD, EventType.POWER_LEVELS, "", {"users": {ADMIN: 100, MOD: 99}})


# --- power level changes ----------------------------------------------------------------


def test_admin_may_promote_a_user_to_their_own_level() -> None:
    check_power_levels_change(room(), ADMIN, {"users": {ADMIN: 100, MOD: 50, USER: 100}})


def test_cannot_grant_a_level_above_your_own() -> None:
    with pytest.raises(Forbidden, match="grant a level above"):
        check_power_levels_change(room(), MOD, {"users": {ADMIN: 100, MOD: 50, USER: 51}})


def test_cannot_change_a_level_that_is_above_your_own() -> None:
    with pytest.raises(Forbidden, match="change a level above"):
        check_power_levels_change(room(), MOD, {"users": {ADMIN: 10, MOD: 50}})


def test_cannot_remove_a_higher_users_entry() -> None:
    with pytest.raises(Forbidden, match="change a level above"):
        check_power_levels_change(room(), MOD, {"users": {MOD: 50}})


def test_cannot_change_a_peers_level() -> None:
    state = room(users={ADMIN: 100, MOD: 50, OTHER: 50})
    with pytest.raises(Forbidden, match="user with your level"):
        check_power_levels_change(state, MOD, {"users": {ADMIN: 100, MOD: 50, OTHER: 0}})


def test_may_demote_yourself() -> None:
    check_power_levels_change(room(), MOD, {"users": {ADMIN: 100, MOD: 0}})


def test_cannot_raise_a_threshold_above_your_own_level() -> None:
    with pytest.raises(Forbidden, match="grant a level above"):
        check_power_levels_change(room(), MOD, {"users": {ADMIN: 100, MOD: 50}, "ban": 60})


def test_cannot_raise_an_event_level_above_your_own() -> None:
    content: JsonDict = {"users": {ADMIN: 100, MOD: 50}, "events": {"m.room.name": 90}}
    with pytest.raises(Forbidden, match="grant a level above"):
        check_power_levels_change(room(), MOD, content)


def test_unchanged_content_is_always_allowed() -> None:
    content: JsonDict = {"users": {ADMIN: 100, MOD: 50}, "ban": 50}
    check_power_levels_change(room(power_levels=content), USER, dict(content))


@pytest.mark.parametrize("group", ["users", "events", "notifications"])
def test_groups_that_are_not_objects_are_forbidden(group: str) -> None:
    with pytest.raises(Forbidden, match=f"power_levels.{group} must be an object"):
        check_power_levels_change(room(), ADMIN, {group: [1, 2]})


def test_first_power_levels_event_is_not_compared_with_anything() -> None:
    state = AuthState(ADMIN, None, JoinRule.INVITE, {ADMIN: Membership.JOIN})
    check_power_levels_change(state, ADMIN, {"users": {ADMIN: 100, OTHER: 1000}})


@given(
    sender_level=st.integers(min_value=0, max_value=100),
    granted=st.integers(min_value=-(2**40), max_value=2**40),
    key=st.sampled_from(["users", "ban", "kick", "redact", "invite", "events", "notifications"]),
)
def test_no_one_can_grant_a_level_above_their_own(
    sender_level: int, granted: int, key: str
) -> None:
    state = room(users={ADMIN: 100, MOD: sender_level}, memberships={MOD: "join"})
    base: JsonDict = {"users": {ADMIN: 100, MOD: sender_level}}
    if key == "users":
        content: JsonDict = {"users": {ADMIN: 100, MOD: sender_level, STRANGER: granted}}
    elif key in ("events", "notifications"):
        content = {**base, key: {"m.anything": granted}}
    else:
        content = {**base, key: granted}
    assert allowed(check_power_levels_change, state, MOD, content) == (granted <= sender_level)


@given(
    levels=st.dictionaries(
        st.sampled_from([ADMIN, MOD, USER, OTHER, STRANGER]),
        st.integers(min_value=0, max_value=100),
        max_size=5,
    ),
    new_levels=st.dictionaries(
        st.sampled_from([ADMIN, MOD, USER, OTHER, STRANGER]),
        st.integers(min_value=0, max_value=100),
        max_size=5,
    ),
    sender=st.sampled_from([ADMIN, MOD, USER, OTHER, STRANGER]),
)
def test_an_allowed_change_never_touches_levels_above_the_sender(
    levels: dict[str, int], new_levels: dict[str, int], sender: str
) -> None:
    state = room(power_levels={"users": dict(levels)})
    mine = state.user_level(sender)
    if not allowed(check_power_levels_change, state, sender, {"users": dict(new_levels)}):
        return
    for user in set(levels) | set(new_levels):
        before, after = levels.get(user), new_levels.get(user)
        if before != after:
            assert before is None or before <= mine
            assert after is None or after <= mine
            if user != sender:
                assert before is None or before < mine


# --- redaction --------------------------------------------------------------------------


def test_anyone_joined_may_redact_their_own_event() -> None:
    check_redact(room(), USER, USER)


def test_redacting_others_needs_the_redact_level() -> None:
    with pytest.raises(Forbidden, match="other users"):
        check_redact(room(), USER, OTHER)
    check_redact(room(), MOD, USER)


def test_redact_requires_membership() -> None:
    with pytest.raises(Forbidden, match="not in this room"):
        check_redact(room({USER: Membership.LEAVE}), USER, USER)


def test_redaction_event_level_gates_even_own_events() -> None:
    state = room(power_levels={"users": {ADMIN: 100}, "events": {EventType.REDACTION: 10}})
    with pytest.raises(Forbidden, match="permission to redact"):
        check_redact(state, USER, USER)


# --- building auth state ----------------------------------------------------------------


def test_auth_state_from_current_state_events() -> None:
    state = auth_state_from(
        [
            (EventType.CREATE, "", ADMIN, {"creator": ADMIN}),
            (EventType.MEMBER, ADMIN, ADMIN, {"membership": "join"}),
            (EventType.POWER_LEVELS, "", ADMIN, {"users": {ADMIN: 100}}),
            (EventType.JOIN_RULES, "", ADMIN, {"join_rule": "public"}),
            (EventType.MEMBER, USER, ADMIN, {"membership": "ban"}),
            (EventType.MEMBER, OTHER, OTHER, {"membership": 5}),
            (EventType.NAME, "", ADMIN, {"name": "ignored"}),
        ]
    )
    assert state.creator == ADMIN
    assert state.power_levels == {"users": {ADMIN: 100}}
    assert state.join_rule == "public"
    assert state.memberships == {ADMIN: "join", USER: "ban", OTHER: "leave"}


def test_auth_state_defaults_to_invite_only_and_creator_from_sender() -> None:
    state = auth_state_from(
        [
            (EventType.CREATE, "", ADMIN, {"room_version": "10"}),
            (EventType.JOIN_RULES, "", ADMIN, {"join_rule": ["public"]}),
        ]
    )
    assert state.creator == ADMIN
    assert state.join_rule == JoinRule.INVITE
    assert state.power_levels is None


def test_auth_state_of_nothing_is_empty() -> None:
    state = auth_state_from([])
    assert state == AuthState(None, None, JoinRule.INVITE, {})


# --- pruning (redaction algorithm) -------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "content", "kept"),
    [
        (EventType.MESSAGE, {"body": "secret", "msgtype": "m.text"}, {}),
        (
            EventType.MEMBER,
            {"membership": "join", "displayname": "A", "join_authorised_via_users_server": "@x:y"},
            {"membership": "join", "join_authorised_via_users_server": "@x:y"},
        ),
        (EventType.CREATE, {"creator": ADMIN, "room_version": "10"}, {"creator": ADMIN}),
        (EventType.JOIN_RULES, {"join_rule": "public", "x": 1}, {"join_rule": "public"}),
        (
            EventType.POWER_LEVELS,
            {"ban": 50, "users": {ADMIN: 100}, "invite": 0, "notifications": {"room": 50}},
            {"ban": 50, "users": {ADMIN: 100}},
        ),
        (
            EventType.HISTORY_VISIBILITY,
            {"history_visibility": "joined", "extra": True},
            {"history_visibility": "joined"},
        ),
        (EventType.TOPIC, {"topic": "gone"}, {}),
    ],
)
def test_prune_keeps_only_the_protocol_keys(
    event_type: str, content: JsonDict, kept: JsonDict
) -> None:
    assert prune_content(event_type, content) == kept


@given(
    event_type=st.sampled_from([*EventType, "m.custom"]),
    content=st.dictionaries(st.text(max_size=30), st.integers() | st.text(max_size=5), max_size=8),
)
def test_prune_is_a_subset_and_idempotent(event_type: str, content: JsonDict) -> None:
    pruned = prune_content(event_type, content)
    assert pruned.items() <= content.items()
    assert prune_content(event_type, pruned) == pruned
