"""Push rule evaluation: compiled rules, the spec's conditions, and one event against many
members at once. Pure: no I/O, no clock.

https://spec.matrix.org/v1.11/client-server-api/#push-rules

Why compiled, and why "many members at once": evaluation runs on the send path for every
member of the room. A ruleset is compiled once (patterns to regular expressions, dotted
keys to tuples, `is` to an operator) and cached per user. The server-default rules name
the member they belong to (their user ID, localpart, display name); they are compiled with
those parts left open (`Personal` conditions), so every member who kept the defaults
shares one compiled ruleset, and `evaluate_group` walks it once per event: rules that
hold for everyone decide for everyone, and only the few members a personal condition
singles out (mentioned, named) get their own outcome. A plain message in a room of 64
costs a handful of set and substring checks, not 64 walks of 20 rules.

Case-insensitive matching (the spec leaves its meaning to the server) compares Unicode
casefolded text. Glob patterns never reach Python's backtracking regex engine in a form
that can backtrack badly: between two `*` each literal segment is found atomically
(leftmost occurrence, never revisited), which is enough for globs and keeps a match
O(len(value) x len(pattern)) whatever pattern a user saves.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from candor.core.canonical_json import JsonDict, encode_canonical

# The spec's word characters; anything else (and the ends of the value) is a boundary. A
# match may start where a word character does not come before it, or where it starts with
# a non-word character itself ("x@room" mentions @room, as Synapse's `\b` reading has it);
# the same, mirrored, at its end.
_WORD = "a-z0-9_"
_STARTS_AT_BOUNDARY = f"(?:(?<![{_WORD}])|(?=[^{_WORD}]))"
_ENDS_AT_BOUNDARY = f"(?:(?![{_WORD}])|(?<=[^{_WORD}]))"
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

LEGACY_ACTIONS = frozenset({"dont_notify", "coalesce"})
_MISSING = object()


# --- outcomes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule's actions mean for one member: notify or not, highlight, and the
    actions themselves (canonical JSON, legacy actions stripped) for /notifications and
    the push gateway."""

    notify: bool
    highlight: bool
    actions: str


NO_NOTIFY = Outcome(False, False, "[]")


def strip_legacy(actions: Sequence[object]) -> list[object]:
    """The spec's "historical actions" (`dont_notify`, `coalesce`) are ignored: stripped."""
    return [a for a in actions if not (isinstance(a, str) and a in LEGACY_ACTIONS)]


def outcome_of(actions: Sequence[object]) -> Outcome:
    """`notify` decides; a `highlight` tweak without a value is true, any other value is
    what it says (only `true` highlights). Highlighting without notifying counts as
    neither: a highlight is a kind of notification."""
    kept = strip_legacy(actions)
    notify = "notify" in kept
    highlight = False
    for action in kept:
        if isinstance(action, dict) and action.get("set_tweak") == "highlight":
            highlight = action.get("value", True) is True
    return Outcome(notify, notify and highlight, encode_canonical(kept).decode())


def tweaks_of(actions: Iterable[object]) -> JsonDict:
    """The `set_tweak` actions as the gateway's `tweaks` object (the last one wins)."""
    tweaks: JsonDict = {}
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            name = str(action["set_tweak"])
            tweaks[name] = action.get("value", True) if name == "highlight" else action.get("value")
    return tweaks


# --- keys and globs --------------------------------------------------------------------


def split_key(key: str) -> tuple[str, ...]:
    """A dot-separated property path (appendices: "Dot-separated property paths"): `\\.` is
    a literal dot, `\\\\` a literal backslash, any other backslash is itself."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(key):
        c = key[i]
        if c == "\\" and i + 1 < len(key) and key[i + 1] in ".\\":
            current.append(key[i + 1])
            i += 2
            continue
        if c == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def _segment(text: str) -> str:
    return "".join("." if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, *, words: bool) -> re.Pattern[str]:
    """The regular expression for a glob (`*` any run, `?` one character), casefolded.

    `words=False`: the whole value must match (use `.match`). `words=True`: some substring
    that starts and ends at a word boundary must match (content.body; also `.match`, the
    expression finds that substring itself). Segments between stars are found leftmost
    and atomically, which is exact for globs (a later segment only gains from an earlier
    placement) and rules out catastrophic backtracking.
    """
    segments = [_segment(s) for s in pattern.casefold().split("*")]
    if len(segments) == 1:  # no star: one fixed-length segment
        if words:
            return re.compile(
                f".*?{_STARTS_AT_BOUNDARY}{segments[0]}{_ENDS_AT_BOUNDARY}", re.DOTALL
            )
        return re.compile(f"{segments[0]}\\Z", re.DOTALL)
    first, *middle, last = segments
    if words:
        # The earliest start is the best one once a star follows: it leaves most room.
        head = f"(?>.*?{_STARTS_AT_BOUNDARY}{first})" if first else ""
        tail = f".*{last}{_ENDS_AT_BOUNDARY}" if last else ""
    else:
        head = first
        tail = f".*{last}\\Z" if last else ""
    body = "".join(f"(?>.*?{m})" for m in middle if m)
    return re.compile(head + body + tail, re.DOTALL)


def contains_word(text: str, needle: str) -> bool:
    """Whether `needle` occurs in `text` bounded by non-word characters or the ends (both
    casefolded already): the spec's word-boundary rule, for display names and localparts."""
    if not needle:
        return False
    open_start = needle[0] not in _WORD_CHARS
    open_end = needle[-1] not in _WORD_CHARS
    start = text.find(needle)
    n = len(needle)
    while start >= 0:
        end = start + n
        if (open_start or start == 0 or text[start - 1] not in _WORD_CHARS) and (
            open_end or end == len(text) or text[end] not in _WORD_CHARS
        ):
            return True
        start = text.find(needle, start + 1)
    return False


def _same_scalar(a: object, b: object) -> bool:
    """Exact equality of JSON scalars: `true` is not `1`, `"1"` is not `1`."""
    return type(a) is type(b) and a == b


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | bool)


# --- the event as rules see it ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomContext:
    """What the conditions read about the room: joined members, the sender's power level
    and the `notifications` levels of m.room.power_levels."""

    member_count: int
    sender_level: int
    notification_levels: Mapping[str, int]


class EventView:
    """One event's properties, looked up once per key however many members are evaluated."""

    __slots__ = ("_event", "_values", "_words", "body", "event_type", "has_mentions", "room")

    def __init__(self, event: JsonDict, room: RoomContext) -> None:
        self._event = event
        self.room = room
        self._values: dict[tuple[str, ...], object] = {}
        self._words: frozenset[str] | None = None
        event_type = event.get("type")
        # Casefolded as event_match compares; a non-string type meets only untyped rules.
        self.event_type = event_type.casefold() if isinstance(event_type, str) else "\x00"
        content = event.get("content")
        body = content.get("body") if isinstance(content, dict) else None
        self.body: str | None = body.casefold() if isinstance(body, str) else None
        # v1.7: the legacy mention rules apply only to events without `m.mentions`.
        self.has_mentions = isinstance(content, dict) and "m.mentions" in content

    def value(self, path: tuple[str, ...]) -> object:
        """The property at `path`, or `_MISSING`."""
        found = self._values.get(path, _MISSING)
        if found is not _MISSING:
            return found
        current: object = self._event
        for part in path:
            if not isinstance(current, dict) or part not in current:
                current = _MISSING
                break
            current = current[part]
        self._values[path] = current
        return current

    def words(self) -> frozenset[str]:
        """The body's maximal runs of word characters (casefolded)."""
        if self._words is None:
            self._words = frozenset(_WORD_RUN.findall(self.body)) if self.body else frozenset()
        return self._words

    def strings_at(self, path: tuple[str, ...]) -> frozenset[str]:
        """The string members of the array at `path` (empty when it is not an array)."""
        found = self.value(path)
        if not isinstance(found, list):
            return frozenset()
        return frozenset(v for v in found if isinstance(v, str))


@dataclass(frozen=True, slots=True)
class Recipient:
    """A member a rule is evaluated for: their id, localpart and display name, casefolded
    where the conditions compare case-insensitively."""

    user_id: str
    user_folded: str
    localpart: str
    display_name: str | None

    @classmethod
    def of(cls, user_id: str, display_name: object = None) -> "Recipient":
        localpart = user_id[1:].split(":", 1)[0]
        name = display_name.casefold() if isinstance(display_name, str) else None
        return cls(user_id, user_id.casefold(), localpart.casefold(), name or None)


# --- conditions ------------------------------------------------------------------------

Shared = Callable[[EventView], bool]


_WORD_RUN = re.compile(f"[{_WORD}]+")


def _first_run(text: str | None) -> str | None:
    found = _WORD_RUN.search(text) if text else None
    return found.group(0) if found is not None else None


class Group:
    """Recipients evaluated together, with lookups built once (and kept with the room's
    cached members) so a personal condition costs per event what the event contains, not
    what the room holds: who is mentioned, which words the body has.

    A name or localpart found in a body as a word has every run of word characters in it
    as a whole word of the body (its boundaries are non-word characters or the ends), so
    recipients are indexed by the first such run and only those whose run is among the
    body's words are checked; names without any are always checked.
    """

    __slots__ = ("_by_localpart", "_by_name", "by_folded", "by_id", "recipients")

    def __init__(self, recipients: Sequence[Recipient]) -> None:
        self.recipients = tuple(recipients)
        self.by_id = {r.user_id: r for r in self.recipients}
        self.by_folded: dict[str, list[Recipient]] = {}
        for r in self.recipients:
            self.by_folded.setdefault(r.user_folded, []).append(r)
        self._by_localpart: tuple[dict[str, list[Recipient]], list[Recipient]] | None = None
        self._by_name: tuple[dict[str, list[Recipient]], list[Recipient]] | None = None

    @staticmethod
    def _index(
        recipients: Sequence[Recipient], text: Callable[[Recipient], str | None]
    ) -> tuple[dict[str, list[Recipient]], list[Recipient]]:
        index: dict[str, list[Recipient]] = {}
        always: list[Recipient] = []
        for r in recipients:
            value = text(r)
            if not value:
                continue
            run = _first_run(value)
            if run is None:
                always.append(r)
            else:
                index.setdefault(run, []).append(r)
        return index, always

    def named_in(self, view: "EventView", *, display: bool) -> list[Recipient]:
        """Recipients whose display name (or localpart) may occur in the body as words."""
        if display:
            if self._by_name is None:
                self._by_name = self._index(self.recipients, lambda r: r.display_name)
            index, always = self._by_name
        else:
            if self._by_localpart is None:
                self._by_localpart = self._index(self.recipients, lambda r: r.localpart)
            index, always = self._by_localpart
        words = view.words()
        found = [r for word in words if word in index for r in index[word]]
        return found + always if always else found


class Personal:
    """A condition that depends on the member: `holds` for one, `select` for a group."""

    def holds(self, view: EventView, r: Recipient) -> bool:
        raise NotImplementedError

    def select(self, view: EventView, group: Group) -> list[Recipient]:
        return [r for r in group.recipients if self.holds(view, r)]


@dataclass(frozen=True, slots=True)
class _ValueIsMe(Personal):
    """event_match on a key whose pattern is the member's own user ID (invite_for_me)."""

    path: tuple[str, ...]

    def holds(self, view: EventView, r: Recipient) -> bool:
        value = view.value(self.path)
        return isinstance(value, str) and value.casefold() == r.user_folded

    def select(self, view: EventView, group: Group) -> list[Recipient]:
        value = view.value(self.path)
        if not isinstance(value, str):
            return []
        return list(group.by_folded.get(value.casefold(), ()))


@dataclass(frozen=True, slots=True)
class _ArrayHasMe(Personal):
    """event_property_contains whose value is the member's user ID (is_user_mention)."""

    path: tuple[str, ...]

    def holds(self, view: EventView, r: Recipient) -> bool:
        return r.user_id in view.strings_at(self.path)

    def select(self, view: EventView, group: Group) -> list[Recipient]:
        by_id = group.by_id
        return [by_id[u] for u in view.strings_at(self.path) if u in by_id]


@dataclass(frozen=True, slots=True)
class _BodyHasLocalpart(Personal):
    """The content rule `.m.rule.contains_user_name` (its pattern is the localpart)."""

    def holds(self, view: EventView, r: Recipient) -> bool:
        return view.body is not None and contains_word(view.body, r.localpart)

    def select(self, view: EventView, group: Group) -> list[Recipient]:
        body = view.body
        if body is None:
            return []
        return [r for r in group.named_in(view, display=False) if contains_word(body, r.localpart)]


@dataclass(frozen=True, slots=True)
class _BodyHasDisplayName(Personal):
    """contains_display_name: the member's display name in the room, as a word."""

    def holds(self, view: EventView, r: Recipient) -> bool:
        name = r.display_name
        return view.body is not None and name is not None and contains_word(view.body, name)

    def select(self, view: EventView, group: Group) -> list[Recipient]:
        body = view.body
        if body is None:
            return []
        return [r for r in group.named_in(view, display=True) if self.holds(view, r)]


def _never(view: EventView) -> bool:
    return False


def _literal(pattern: str) -> str | None:
    """The casefolded pattern when it has no wildcard (then a match is a plain comparison)."""
    return None if "*" in pattern or "?" in pattern else pattern.casefold()


def _event_match(key: str, pattern: str) -> Shared:
    path = split_key(key)
    words = key == "content.body"
    regex = glob_regex(pattern, words=words)
    literal = _literal(pattern)
    if literal is not None and not words:

        def equal(view: EventView) -> bool:
            value = view.value(path)
            return isinstance(value, str) and value.casefold() == literal

        return equal
    if literal is not None:

        def occurs(view: EventView) -> bool:
            body = view.body
            return body is not None and literal in body and regex.match(body) is not None

        return occurs

    def test(view: EventView) -> bool:
        value = view.value(path)
        return isinstance(value, str) and regex.match(value.casefold()) is not None

    return test


def _property_is(key: str, expected: object) -> Shared:
    path = split_key(key)
    return lambda view: _same_scalar(view.value(path), expected)


def _property_contains(key: str, expected: object) -> Shared:
    path = split_key(key)

    def test(view: EventView) -> bool:
        found = view.value(path)
        return isinstance(found, list) and any(_same_scalar(v, expected) for v in found)

    return test


_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]+)\Z")
_COMPARE: Mapping[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _member_count(spec: object) -> Shared:
    """`is`: a decimal integer with an optional ==, <, >, <= or >= (none means ==)."""
    found = _MEMBER_COUNT.match(spec) if isinstance(spec, str) else None
    if found is None:
        return _never
    compare = _COMPARE[found.group(1) or "=="]
    number = int(found.group(2))
    return lambda view: compare(view.room.member_count, number)


def _sender_permission(key: object) -> Shared:
    if not isinstance(key, str):
        return _never
    return lambda view: view.room.sender_level >= view.room.notification_levels.get(key, 50)


# The values the server-default rules use for "the member this ruleset belongs to": they
# contain NUL, which no real user ID or localpart does, and they are recognised only in
# server-default rules (rule ids starting with a dot), which no user can write.
ME = "\x00me\x00"
MY_LOCALPART = "\x00localpart\x00"


def compile_condition(condition: object, *, default: bool) -> tuple[Shared | None, Personal | None]:
    """One condition as (shared test, personal test); exactly one is set. Unknown kinds and
    malformed parameters never match (the spec: an unrecognised condition disables its rule)."""
    if not isinstance(condition, dict):
        return _never, None
    kind = condition.get("kind")
    key = condition.get("key")
    if kind == "event_match":
        pattern = condition.get("pattern")
        if not isinstance(key, str) or not isinstance(pattern, str):
            return _never, None
        if default and pattern == ME:
            return None, _ValueIsMe(split_key(key))
        return _event_match(key, pattern), None
    if kind in ("event_property_is", "event_property_contains"):
        value = condition.get("value", _MISSING)
        if not isinstance(key, str) or not _is_scalar(value):
            return _never, None
        if kind == "event_property_is":
            return _property_is(key, value), None
        if default and value == ME:
            return None, _ArrayHasMe(split_key(key))
        return _property_contains(key, value), None
    if kind == "contains_display_name":
        return None, _BodyHasDisplayName()
    if kind == "room_member_count":
        return _member_count(condition.get("is")), None
    if kind == "sender_notification_permission":
        return _sender_permission(key), None
    return _never, None


# --- rules and rulesets ----------------------------------------------------------------

# Deprecated in v1.7: "should only be enabled if the event does not have an m.mentions
# property" (they match words in the body, which m.mentions makes explicit instead).
LEGACY_MENTION_RULES = frozenset(
    {".m.rule.contains_display_name", ".m.rule.contains_user_name", ".m.rule.roomnotif"}
)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: str
    # The event type the rule requires (an exact `type` event_match), casefolded: rules are
    # indexed by it, so an event meets only the rules that can match its type.
    event_type: str | None
    shared: Shared | None  # every other member-independent condition, as one test
    personal: tuple[Personal, ...]
    legacy_mention: bool
    outcome: Outcome


def _all_of(tests: Sequence[Shared]) -> Shared | None:
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda view: first(view) and second(view)
    found = tuple(tests)
    return lambda view: all(test(view) for test in found)


class CompiledRuleset:
    """The enabled rules of one ruleset in evaluation order, and for each event type the
    rules that can match it (in the same order)."""

    __slots__ = ("_by_type", "_untyped", "rules")

    def __init__(self, rules: Sequence[CompiledRule] = ()) -> None:
        self.rules = tuple(rules)
        self._untyped = tuple(r for r in self.rules if r.event_type is None)
        types = {r.event_type for r in self.rules if r.event_type is not None}
        self._by_type = {
            t: tuple(r for r in self.rules if r.event_type in (None, t)) for t in types
        }

    def for_type(self, event_type: str) -> tuple[CompiledRule, ...]:
        return self._by_type.get(event_type, self._untyped)


def _required_type(condition: object) -> str | None:
    """The type an `event_match` on `type` with a plain (wildcard-free) pattern demands."""
    if (
        isinstance(condition, dict)
        and condition.get("kind") == "event_match"
        and condition.get("key") == "type"
        and isinstance(condition.get("pattern"), str)
    ):
        return _literal(str(condition["pattern"]))
    return None


def compile_rule(kind: str, rule: JsonDict) -> CompiledRule | None:
    """A rule as served (kind, rule_id, conditions/pattern, actions); None when disabled."""
    if rule.get("enabled") is False:
        return None
    rule_id = str(rule.get("rule_id", ""))
    default = rule_id.startswith(".")
    shared: list[Shared] = []
    personal: list[Personal] = []
    event_type: str | None = None
    if kind in ("override", "underride"):
        conditions = rule.get("conditions", [])
        for condition in conditions if isinstance(conditions, list) else [None]:
            required = _required_type(condition)
            if required is not None and event_type is None:
                event_type = required
                continue
            test, mine = compile_condition(condition, default=default)
            if test is not None:
                shared.append(test)
            if mine is not None:
                personal.append(mine)
    elif kind == "content":
        pattern = rule.get("pattern")
        if default and pattern == MY_LOCALPART:
            personal.append(_BodyHasLocalpart())
        elif isinstance(pattern, str):
            shared.append(_event_match("content.body", pattern))
        else:
            shared.append(_never)
    elif kind == "room":
        shared.append(_property_is("room_id", rule_id))
    elif kind == "sender":
        shared.append(_property_is("sender", rule_id))
    else:
        return None
    actions = rule.get("actions")
    return CompiledRule(
        rule_id=rule_id,
        event_type=event_type,
        shared=_all_of(shared),
        personal=tuple(personal),
        legacy_mention=rule_id in LEGACY_MENTION_RULES,
        outcome=outcome_of(actions if isinstance(actions, list) else []),
    )


KINDS = ("override", "content", "room", "sender", "underride")


def compile_ruleset(ruleset: Mapping[str, Sequence[JsonDict]]) -> CompiledRuleset:
    """A `global` ruleset (kind → ordered rules, already merged with the defaults)."""
    compiled: list[CompiledRule] = []
    for kind in KINDS:
        for rule in ruleset.get(kind, ()):
            done = compile_rule(kind, rule)
            if done is not None:
                compiled.append(done)
    return CompiledRuleset(tuple(compiled))


def evaluate_group(
    ruleset: CompiledRuleset, view: EventView, group: Group
) -> tuple[Outcome, dict[str, Outcome]]:
    """Evaluate `ruleset` for every recipient of `group`: (the outcome of those no personal
    condition singled out, {user_id: outcome} of those it did). Exact: each recipient gets
    the actions of the first enabled rule that matches them, or no notification."""
    singled: dict[str, Outcome] = {}
    for rule in ruleset.for_type(view.event_type):
        if rule.legacy_mention and view.has_mentions:
            continue
        if rule.shared is not None and not rule.shared(view):
            continue
        if not rule.personal:
            return rule.outcome, singled
        first, *rest = rule.personal
        for r in first.select(view, group):
            if r.user_id not in singled and all(c.holds(view, r) for c in rest):
                singled[r.user_id] = rule.outcome
    return NO_NOTIFY, singled


def evaluate(ruleset: CompiledRuleset, view: EventView, recipient: Recipient) -> Outcome:
    """One recipient's outcome (`evaluate_group` for a group of one)."""
    rest, singled = evaluate_group(ruleset, view, Group([recipient]))
    return singled.get(recipient.user_id, rest)
