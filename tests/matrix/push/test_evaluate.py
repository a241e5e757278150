"""Push rule evaluation (pure): each condition kind with the spec's own examples, the
server-default rules' outcomes, and group evaluation against one-by-one evaluation."""

import time
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candor.core.canonical_json import JsonDict
from candor.matrix.push.evaluate import (
    NO_NOTIFY,
    EventView,
    Group,
    Outcome,
    Recipient,
    RoomContext,
    compile_ruleset,
    contains_word,
    evaluate,
    evaluate_group,
    glob_regex,
    outcome_of,
    split_key,
    tweaks_of,
)
from candor.matrix.push.rules import DefaultSetting, UserRule, merge_ruleset

DEFAULTS = compile_ruleset(merge_ruleset(None, [], []))
ALICE = Recipient.of("@alice:example.org", "Alice Liddell")
BOB = Recipient.of("@bob:example.org", "Bob")
SOUND = {"set_tweak": "sound", "value": "default"}


def view(
    event: Mapping[str, object],
    *,
    members: int = 5,
    sender_level: int = 0,
    levels: dict[str, int] | None = None,
) -> EventView:
    base: JsonDict = {"sender": "@carol:example.org", "room_id": "!r:example.org"}
    return EventView({**base, **event}, RoomContext(members, sender_level, levels or {}))


def message(body: str, **content: object) -> JsonDict:
    return {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body, **content}}


def matches(
    condition: Mapping[str, object],
    event: Mapping[str, object],
    *,
    members: int = 5,
    sender_level: int = 0,
    levels: dict[str, int] | None = None,
) -> bool:
    ruleset = compile_ruleset(
        {"override": [{"rule_id": "x", "conditions": [condition], "actions": ["notify"]}]}
    )
    found = view(event, members=members, sender_level=sender_level, levels=levels)
    return evaluate(ruleset, found, ALICE).notify


# --- keys and globs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("content.body", ("content", "body")),
        ("content.m\\.relates_to.rel_type", ("content", "m.relates_to", "rel_type")),
        ("content.m\\\\foo", ("content", "m\\foo")),
        ("content.m\\xfoo", ("content", "m\\xfoo")),  # other escapes are literal
        ("type", ("type",)),
        ("a..b", ("a", "", "b")),
    ],
)
def test_dotted_keys_follow_the_appendix_escaping(key: str, parts: tuple[str, ...]) -> None:
    assert split_key(key) == parts


def test_event_match_spec_example_topic() -> None:
    condition = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}
    topic = {"type": "m.room.topic", "state_key": ""}
    assert matches(condition, {**topic, "content": {"topic": "Lunch plans"}})
    assert matches(condition, {**topic, "content": {"topic": "LUNCH"}})
    assert not matches(condition, {**topic, "content": {"topic": " lunch"}})
    assert not matches(condition, {**topic, "content": {"topic": "lunc"}})
    assert not matches(condition, {**topic, "content": {"topic": None}})
    assert not matches(condition, {**topic, "content": {}})


def test_event_match_star_matches_any_string_but_not_a_missing_or_other_value() -> None:
    condition = {"kind": "event_match", "key": "content.x", "pattern": "*"}
    assert matches(condition, {"type": "t", "content": {"x": ""}})
    assert not matches(condition, {"type": "t", "content": {"x": 1}})
    assert not matches(condition, {"type": "t", "content": {}})


def test_event_match_on_the_body_spec_example_word_boundaries() -> None:
    condition = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}
    assert matches(condition, message("An example event."))
    assert matches(condition, message("exple"))
    assert matches(condition, message("An exciting triple-whammy"))
    assert not matches(condition, message("examples"))
    assert not matches(condition, message("reexample"))


@pytest.mark.parametrize(
    ("pattern", "body", "expected"),
    [
        ("cake", "I like cake!", True),
        ("cake", "CAKE", True),
        ("cake", "cakes", False),
        ("cake", "pancake", False),
        ("@room", "hello @room", True),
        ("@room", "x@room", True),  # '@' is not a word character: a boundary before it
        ("c?ke", "coke", True),
        ("c?ke", "cke", False),
        ("*", "anything", True),
        ("cake*", "cakes are a lie", True),
        ("*lie", "the cake is a lie", True),
        ("cake*lie", "the cake is a lie.", True),
        ("cake*lie", "cake lies", False),
    ],
)
def test_body_glob_cases(pattern: str, body: str, expected: bool) -> None:
    assert (glob_regex(pattern, words=True).match(body.casefold()) is not None) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("m.notice", "m.notice", True),
        ("m.notice", "m.notices", False),
        ("m.*", "m.room.message", True),
        ("*.message", "m.room.message", True),
        ("m.*.message", "m.room.message", True),
        ("m.*.message", "m.message", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("?", "", False),
        ("", "", True),
        ("", "x", False),
    ],
)
def test_whole_value_glob_cases(pattern: str, value: str, expected: bool) -> None:
    assert (glob_regex(pattern, words=False).match(value.casefold()) is not None) is expected


def test_a_pathological_pattern_cannot_stall_evaluation() -> None:
    started = time.perf_counter()
    for words in (True, False):
        regex = glob_regex("*a*a*a*a*a*a*a*a*a*a*b", words=words)
        assert regex.match("a" * 20_000) is None
    assert time.perf_counter() - started < 1.0


def test_contains_word_checks_both_boundaries() -> None:
    assert contains_word("hi bob!", "bob")
    assert not contains_word("bobby", "bob")
    assert contains_word("bobby bob", "bob")
    assert not contains_word("x", "")


# --- the other conditions ----------------------------------------------------------------


def test_event_property_is_spec_example_federate() -> None:
    condition = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}
    create = {"type": "m.room.create", "state_key": ""}
    assert matches(condition, {**create, "content": {"m.federate": True}})
    assert not matches(condition, {**create, "content": {"m.federate": "true"}})
    assert not matches(condition, {**create, "content": {"m.federate": 1}})
    assert not matches(condition, {**create, "content": {}})


def test_event_property_is_matches_null_and_integers_exactly() -> None:
    is_null = {"kind": "event_property_is", "key": "content.v", "value": None}
    is_one = {"kind": "event_property_is", "key": "content.v", "value": 1}
    assert matches(is_null, {"type": "t", "content": {"v": None}})
    assert not matches(is_null, {"type": "t", "content": {}})
    assert matches(is_one, {"type": "t", "content": {"v": 1}})
    assert not matches(is_one, {"type": "t", "content": {"v": True}})


def test_event_property_contains_spec_example_alt_aliases() -> None:
    condition = {
        "kind": "event_property_contains",
        "key": "content.alt_aliases",
        "value": "#myroom:example.com",
    }
    alias = {"type": "m.room.canonical_alias", "state_key": ""}
    found = ["#somewhere:example.org", "#myroom:example.com"]
    assert matches(condition, {**alias, "content": {"alt_aliases": found}})
    assert not matches(condition, {**alias, "content": {"alt_aliases": [":example.com"]}})
    assert not matches(condition, {**alias, "content": {"alt_aliases": "#myroom:example.com"}})
    true_in = {"kind": "event_property_contains", "key": "content.a", "value": True}
    assert not matches(true_in, {"type": "t", "content": {"a": [1]}})
    assert matches(true_in, {"type": "t", "content": {"a": [1, True]}})


@pytest.mark.parametrize(
    ("spec", "members", "expected"),
    [
        ("2", 2, True),
        ("2", 3, False),
        ("==2", 2, True),
        ("<3", 2, True),
        ("<3", 3, False),
        (">1", 2, True),
        (">2", 2, False),
        (">=2", 2, True),
        ("<=2", 2, True),
        ("<=2", 3, False),
        ("=2", 2, False),
        ("2.0", 2, False),
        ("two", 2, False),
    ],
)
def test_room_member_count_operators(spec: str, members: int, expected: bool) -> None:
    condition = {"kind": "room_member_count", "is": spec}
    assert matches(condition, message("x"), members=members) is expected


def test_sender_notification_permission_reads_the_notifications_levels() -> None:
    condition = {"kind": "sender_notification_permission", "key": "room"}
    assert matches(condition, message("x"), sender_level=50)
    assert not matches(condition, message("x"), sender_level=49)
    assert matches(condition, message("x"), sender_level=10, levels={"room": 10})
    assert not matches(condition, message("x"), sender_level=99, levels={"room": 100})


def test_contains_display_name_needs_the_whole_name_as_words() -> None:
    condition = {"kind": "contains_display_name"}
    assert matches(condition, message("is alice liddell here?"))
    assert not matches(condition, message("alice"))
    no_name = Recipient.of("@dan:example.org", None)
    ruleset = compile_ruleset(
        {"override": [{"rule_id": "x", "conditions": [condition], "actions": ["notify"]}]}
    )
    assert not evaluate(ruleset, view(message("dan")), no_name).notify


def test_unknown_and_malformed_conditions_never_match() -> None:
    assert not matches({"kind": "org.example.future"}, message("x"))
    assert not matches({"kind": "event_match", "key": "type"}, message("x"))
    assert not matches({"kind": "event_property_is", "key": "type", "value": [1]}, message("x"))
    assert not matches({"kind": "room_member_count"}, message("x"))
    assert not matches({"kind": "sender_notification_permission"}, message("x"), sender_level=100)


# --- actions -------------------------------------------------------------------------------


def test_legacy_actions_are_ignored() -> None:
    assert outcome_of(["notify", "coalesce"]) == Outcome(True, False, '["notify"]')
    assert outcome_of(["dont_notify"]) == Outcome(False, False, "[]")


def test_highlight_needs_notify_and_a_true_or_missing_value() -> None:
    assert outcome_of(["notify", {"set_tweak": "highlight"}]).highlight
    assert not outcome_of(["notify", {"set_tweak": "highlight", "value": False}]).highlight
    assert not outcome_of([{"set_tweak": "highlight"}]).highlight


def test_tweaks_for_the_gateway() -> None:
    actions: list[object] = ["notify", SOUND, {"set_tweak": "highlight"}]
    assert tweaks_of(actions) == {"sound": "default", "highlight": True}


# --- the server-default rules --------------------------------------------------------------


def outcome(
    event: Mapping[str, object], who: Recipient = ALICE, *, members: int = 5, sender_level: int = 0
) -> Outcome:
    return evaluate(DEFAULTS, view(event, members=members, sender_level=sender_level), who)


def test_a_message_in_a_group_notifies_without_sound() -> None:
    assert outcome(message("hi")) == outcome_of(["notify"])


def test_a_message_in_a_one_to_one_room_notifies_with_sound() -> None:
    assert outcome(message("hi"), members=2) == outcome_of(["notify", SOUND])


def test_notices_reactions_edits_and_member_events_do_not_notify() -> None:
    assert (
        outcome({"type": "m.room.message", "content": {"msgtype": "m.notice", "body": "x"}})
        == NO_NOTIFY
    )
    assert outcome({"type": "m.reaction", "content": {}}) == NO_NOTIFY
    edit = message("* hi", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}})
    assert outcome(edit) == NO_NOTIFY
    join = {
        "type": "m.room.member",
        "state_key": "@dan:example.org",
        "content": {"membership": "join"},
    }
    assert outcome(join) == NO_NOTIFY


def test_an_invite_notifies_only_the_invitee() -> None:
    invite = {
        "type": "m.room.member",
        "state_key": "@alice:example.org",
        "content": {"membership": "invite"},
    }
    assert outcome(invite, ALICE) == outcome_of(["notify", SOUND])
    assert outcome(invite, BOB) == NO_NOTIFY


def test_a_user_mention_highlights_only_the_mentioned() -> None:
    mention = message("hey", **{"m.mentions": {"user_ids": ["@alice:example.org"]}})
    assert outcome(mention, ALICE).highlight
    assert not outcome(mention, BOB).highlight


def test_with_m_mentions_the_legacy_name_rules_are_off() -> None:
    named = message("Alice Liddell and bob, look", **{"m.mentions": {}})
    assert not outcome(named, ALICE).highlight
    assert not outcome(named, BOB).highlight
    legacy = message("Alice Liddell and bob, look")
    assert outcome(legacy, ALICE).highlight  # display name
    assert outcome(legacy, BOB).highlight  # localpart


def test_a_room_mention_highlights_everyone_when_the_sender_may() -> None:
    at_room = message("all", **{"m.mentions": {"room": True}})
    assert outcome(at_room, sender_level=50).highlight
    assert not outcome(at_room, sender_level=0).highlight
    assert outcome(at_room, sender_level=0).notify
    assert outcome(message("hey @room"), sender_level=50).highlight


def test_encrypted_events_match_on_the_envelope_only() -> None:
    encrypted = {
        "type": "m.room.encrypted",
        "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "alice"},
    }
    assert outcome(encrypted) == outcome_of(["notify"])
    assert outcome(encrypted, members=2) == outcome_of(["notify", SOUND])
    assert not outcome(encrypted).highlight


def test_calls_ring_and_tombstones_highlight() -> None:
    assert outcome({"type": "m.call.invite", "content": {}}) == outcome_of(
        ["notify", {"set_tweak": "sound", "value": "ring"}]
    )
    tombstone = {"type": "m.room.tombstone", "state_key": "", "content": {}}
    assert outcome(tombstone).highlight


def test_user_rules_and_settings_change_the_outcome() -> None:
    mute_room = UserRule("room", "!r:example.org", None, None, [], True)
    assert (
        evaluate(compile_ruleset(merge_ruleset(None, [mute_room], [])), view(message("x")), ALICE)
        == NO_NOTIFY
    )
    master = DefaultSetting(".m.rule.master", True, None)
    everything_off = compile_ruleset(merge_ruleset(None, [], [master]))
    assert evaluate(everything_off, view(message("x")), ALICE) == NO_NOTIFY
    # The master rule wins even over the user's own override rules.
    loud = UserRule("override", "loud", [], None, ["notify"], True)
    assert (
        evaluate(compile_ruleset(merge_ruleset(None, [loud], [master])), view(message("x")), ALICE)
        == NO_NOTIFY
    )
    keyword = UserRule("content", "tea", None, "tea", ["notify", {"set_tweak": "highlight"}], True)
    with_keyword = compile_ruleset(merge_ruleset(None, [keyword], []))
    assert evaluate(with_keyword, view(message("time for tea")), ALICE).highlight
    disabled = UserRule(
        "content", "tea", None, "tea", ["notify", {"set_tweak": "highlight"}], False
    )
    assert not evaluate(
        compile_ruleset(merge_ruleset(None, [disabled], [])), view(message("tea")), ALICE
    ).highlight
    quiet = DefaultSetting(".m.rule.message", None, [])
    assert (
        evaluate(compile_ruleset(merge_ruleset(None, [], [quiet])), view(message("x")), ALICE)
        == NO_NOTIFY
    )
    sender = UserRule("sender", "@carol:example.org", None, None, [], True)
    assert (
        evaluate(compile_ruleset(merge_ruleset(None, [sender], [])), view(message("x")), ALICE)
        == NO_NOTIFY
    )


# --- groups ----------------------------------------------------------------------------------

NAMES = ["alice", "bob", "carol", "dan", "Eve Smith", "tea"]
people = st.lists(
    st.tuples(
        st.sampled_from(["alice", "bob", "carol", "dan", "erin", "frank"]),
        st.sampled_from([None, *NAMES]),
    ),
    unique_by=lambda p: p[0],
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    members=people,
    body=st.lists(st.sampled_from([*NAMES, "hi", "@room", "x"]), max_size=5).map(" ".join),
    mentioned=st.lists(st.sampled_from(["alice", "bob", "zed"]), max_size=3),
    with_mentions=st.booleans(),
    count=st.integers(1, 4),
)
def test_group_evaluation_equals_one_by_one(
    members: list[tuple[str, str | None]],
    body: str,
    mentioned: list[str],
    with_mentions: bool,
    count: int,
) -> None:
    extra: dict[str, object] = {}
    if with_mentions:
        extra["m.mentions"] = {"user_ids": [f"@{m}:example.org" for m in mentioned]}
    v = view(message(body, **extra), members=count, sender_level=50)
    recipients = [Recipient.of(f"@{u}:example.org", name) for u, name in members]
    rest, singled = evaluate_group(DEFAULTS, v, Group(recipients))
    for r in recipients:
        alone = evaluate(DEFAULTS, v, r)
        assert singled.get(r.user_id, rest) == alone
