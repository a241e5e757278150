"""Push rules as the API sees them (pure): the predefined rules, the merged order, placing
rules with before/after, and what a client may save."""

import pytest

from candor.matrix.errors import MatrixError
from candor.matrix.push.rules import (
    DEFAULT_RULE_KINDS,
    DefaultSetting,
    UserRule,
    check_actions,
    check_condition,
    check_rule_body,
    check_user_rule_id,
    merge_ruleset,
    place,
    server_default_rules,
)

ME = "@alice:example.org"


def ids(rules: list[dict[str, object]]) -> list[object]:
    return [r["rule_id"] for r in rules]


def test_the_predefined_rules_in_the_spec_order() -> None:
    rules = server_default_rules(ME)
    assert ids(rules["override"]) == [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.contains_display_name",
        ".m.rule.is_room_mention",
        ".m.rule.roomnotif",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
    ]
    assert ids(rules["content"]) == [".m.rule.contains_user_name"]
    assert ids(rules["underride"]) == [
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    assert rules["room"] == rules["sender"] == []
    assert rules["override"][0]["enabled"] is False
    assert all(r["default"] is True for kind in rules.values() for r in kind)


def test_the_predefined_rules_name_their_owner() -> None:
    rules = server_default_rules(ME)
    invite = rules["override"][2]
    mention = rules["override"][4]
    assert {"kind": "event_match", "key": "state_key", "pattern": ME} in invite["conditions"]  # type: ignore[operator]
    assert mention["conditions"] == [
        {"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": ME}
    ]
    assert rules["content"][0]["pattern"] == "alice"


def test_user_rules_come_before_the_defaults_but_after_master() -> None:
    mine = [
        UserRule("override", "o1", [], None, ["notify"], True),
        UserRule("override", "o2", [], None, [], False),
        UserRule("content", "c1", None, "tea", ["notify"], True),
        UserRule("room", "!r:x", None, None, [], True),
        UserRule("sender", "@s:x", None, None, [], True),
        UserRule("underride", "u1", [], None, ["notify"], True),
    ]
    merged = merge_ruleset(ME, mine, [])
    assert ids(merged["override"])[:4] == [".m.rule.master", "o1", "o2", ".m.rule.suppress_notices"]
    assert ids(merged["content"]) == ["c1", ".m.rule.contains_user_name"]
    assert ids(merged["room"]) == ["!r:x"]
    assert ids(merged["sender"]) == ["@s:x"]
    assert ids(merged["underride"])[0] == "u1"
    room_rule = merged["room"][0]
    assert room_rule == {"rule_id": "!r:x", "default": False, "enabled": True, "actions": []}
    assert merged["content"][0]["pattern"] == "tea"
    assert merged["override"][2]["enabled"] is False


def test_settings_change_default_rules_without_moving_them() -> None:
    merged = merge_ruleset(
        ME,
        [],
        [
            DefaultSetting(".m.rule.master", True, None),
            DefaultSetting(
                ".m.rule.message", None, ["notify", {"set_tweak": "sound", "value": "x"}]
            ),
        ],
    )
    assert merged["override"][0]["enabled"] is True
    message = next(r for r in merged["underride"] if r["rule_id"] == ".m.rule.message")
    assert message["actions"] == ["notify", {"set_tweak": "sound", "value": "x"}]
    assert message["enabled"] is True


def test_every_default_rule_has_one_kind() -> None:
    assert DEFAULT_RULE_KINDS[".m.rule.master"] == "override"
    assert DEFAULT_RULE_KINDS[".m.rule.contains_user_name"] == "content"
    assert DEFAULT_RULE_KINDS[".m.rule.message"] == "underride"
    assert len(DEFAULT_RULE_KINDS) == 18


# --- placing ---------------------------------------------------------------------------------


def test_a_new_rule_goes_first_and_an_existing_one_keeps_its_place() -> None:
    assert place(["a", "b"], "new", before=None, after=None) == ["new", "a", "b"]
    assert place(["a", "b", "c"], "b", before=None, after=None) == ["a", "b", "c"]


def test_before_and_after_place_relative_to_a_user_rule() -> None:
    assert place(["a", "b", "c"], "new", before="b", after=None) == ["a", "new", "b", "c"]
    assert place(["a", "b", "c"], "new", before=None, after="b") == ["a", "b", "new", "c"]
    assert place(["a", "b", "c"], "new", before=None, after="c") == ["a", "b", "c", "new"]
    assert place(["a", "b", "c"], "a", before=None, after="c") == ["b", "c", "a"]
    assert place(["a", "b", "c"], "c", before="a", after=None) == ["c", "a", "b"]


def test_before_wins_over_after() -> None:
    assert place(["a", "b", "c"], "new", before="a", after="c") == ["new", "a", "b", "c"]


@pytest.mark.parametrize("anchor", ["missing", ".m.rule.message", "self"])
def test_an_unknown_anchor_is_refused(anchor: str) -> None:
    with pytest.raises(MatrixError) as caught:
        place(["a", "self"], "self", before=anchor, after=None)
    assert caught.value.status == 400
    assert caught.value.errcode == "M_UNKNOWN"


# --- checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "rule_id"),
    [
        ("override", ".mine"),
        ("override", "a/b"),
        ("override", "a\\b"),
        ("override", ""),
        ("override", "x" * 256),
        ("room", "not-a-room"),
        ("sender", "!room:x"),
    ],
)
def test_bad_rule_ids_are_refused(kind: str, rule_id: str) -> None:
    with pytest.raises(MatrixError) as caught:
        check_user_rule_id(kind, rule_id)
    assert caught.value.errcode == "M_INVALID_PARAM"


def test_good_rule_ids_pass() -> None:
    check_user_rule_id("override", "my rule")
    check_user_rule_id("room", "!abc:example.org")
    check_user_rule_id("sender", "@spam:example.org")


def test_actions_are_checked_and_legacy_ones_stripped() -> None:
    assert check_actions(["notify", "dont_notify", {"set_tweak": "sound", "value": "x"}]) == [
        "notify",
        {"set_tweak": "sound", "value": "x"},
    ]
    for bad in (["shout"], [{"value": 1}], [{"set_tweak": 1}], ["notify"] * 33):
        with pytest.raises(MatrixError):
            check_actions(bad)


@pytest.mark.parametrize(
    "condition",
    [
        "event_match",
        {"key": "type"},
        {"kind": "event_match", "key": "type"},
        {"kind": "event_match", "pattern": "x"},
        {"kind": "event_property_is", "key": "content.x"},
        {"kind": "event_property_is", "key": "content.x", "value": [1]},
        {"kind": "event_property_contains", "key": "content.x", "value": {"a": 1}},
        {"kind": "room_member_count", "is": "two"},
        {"kind": "room_member_count"},
        {"kind": "sender_notification_permission"},
    ],
)
def test_malformed_conditions_are_refused(condition: object) -> None:
    with pytest.raises(MatrixError) as caught:
        check_condition(condition)
    assert caught.value.errcode == "M_INVALID_PARAM"


def test_unknown_condition_kinds_are_kept() -> None:
    assert check_condition({"kind": "org.example.new", "x": 1}) == {
        "kind": "org.example.new",
        "x": 1,
    }


def test_a_content_rule_needs_a_pattern_and_others_ignore_it() -> None:
    with pytest.raises(MatrixError) as caught:
        check_rule_body("content", None, None)
    assert caught.value.errcode == "M_MISSING_PARAM"
    assert check_rule_body("content", None, "tea") == (None, "tea")
    assert check_rule_body("room", [{"kind": "x"}], "tea") == (None, None)
    assert check_rule_body("override", None, "tea") == ([], None)
