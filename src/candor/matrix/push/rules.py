"""Push rules as the API sees them: the spec's predefined rules, a user's own rules and
their settings merged in the spec's order, and the checks on what a client may save.
Pure: no I/O.

https://spec.matrix.org/v1.11/client-server-api/#predefined-rules

Order (the spec's "Push Rules" and "Predefined Rules"): override, content, room, sender,
underride; within a kind the user's rules come first, in the order they were placed, then
the server-default rules, except `.m.rule.master`, which comes before everything.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.core.ids import InvalidId, RoomID, UserID
from candor.matrix.errors import Codes, InvalidParam, MatrixError, NotFound
from candor.matrix.push.evaluate import KINDS, LEGACY_ACTIONS, ME, MY_LOCALPART, strip_legacy

MAX_RULES_PER_USER = 1000
MAX_CONDITIONS = 32
MAX_ACTIONS = 32
MAX_PATTERN = 1000
_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?[0-9]{1,9}\Z")
_SCALAR = (str, int, bool, type(None))

_NOTIFY_SOUND: list[object] = ["notify", {"set_tweak": "sound", "value": "default"}]
_NOTIFY_SOUND_HIGHLIGHT: list[object] = [*_NOTIFY_SOUND, {"set_tweak": "highlight"}]
_NOTIFY_HIGHLIGHT: list[object] = ["notify", {"set_tweak": "highlight"}]


@dataclass(frozen=True, slots=True)
class UserRule:
    """A rule the user defined (stored), in its kind's order."""

    kind: str
    rule_id: str
    conditions: list[object] | None
    pattern: str | None
    actions: list[object]
    enabled: bool


@dataclass(frozen=True, slots=True)
class DefaultSetting:
    """The user's change to a server-default rule (None: as the server defines it)."""

    rule_id: str
    enabled: bool | None
    actions: list[object] | None


def _match(key: str, pattern: str) -> JsonDict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _default(rule_id: str, actions: list[object], **body: object) -> JsonDict:
    return {"rule_id": rule_id, "default": True, "enabled": True, "actions": actions, **body}


def server_default_rules(user_id: str | None) -> dict[str, list[JsonDict]]:
    """The predefined rules for `user_id`, by kind, in order; `.m.rule.master` first.

    With None, the rules name "the member" with the markers `evaluate` compiles into
    per-member conditions, so every member who keeps the defaults shares one compiled set.
    """
    me = user_id if user_id is not None else ME
    localpart = user_id[1:].split(":", 1)[0] if user_id is not None else MY_LOCALPART
    master = _default(".m.rule.master", [], conditions=[])
    master["enabled"] = False
    override = [
        master,
        _default(
            ".m.rule.suppress_notices", [], conditions=[_match("content.msgtype", "m.notice")]
        ),
        _default(
            ".m.rule.invite_for_me",
            _NOTIFY_SOUND,
            conditions=[
                _match("type", "m.room.member"),
                _match("content.membership", "invite"),
                _match("state_key", me),
            ],
        ),
        _default(".m.rule.member_event", [], conditions=[_match("type", "m.room.member")]),
        _default(
            ".m.rule.is_user_mention",
            _NOTIFY_SOUND_HIGHLIGHT,
            conditions=[
                {
                    "kind": "event_property_contains",
                    "key": "content.m\\.mentions.user_ids",
                    "value": me,
                }
            ],
        ),
        _default(
            ".m.rule.contains_display_name",
            _NOTIFY_SOUND_HIGHLIGHT,
            conditions=[{"kind": "contains_display_name"}],
        ),
        _default(
            ".m.rule.is_room_mention",
            _NOTIFY_HIGHLIGHT,
            conditions=[
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
        ),
        _default(
            ".m.rule.roomnotif",
            _NOTIFY_HIGHLIGHT,
            conditions=[
                _match("content.body", "@room"),
                {"kind": "sender_notification_permission", "key": "room"},
            ],
        ),
        _default(
            ".m.rule.tombstone",
            _NOTIFY_HIGHLIGHT,
            conditions=[_match("type", "m.room.tombstone"), _match("state_key", "")],
        ),
        _default(".m.rule.reaction", [], conditions=[_match("type", "m.reaction")]),
        _default(
            ".m.rule.room.server_acl",
            [],
            conditions=[_match("type", "m.room.server_acl"), _match("state_key", "")],
        ),
        _default(
            ".m.rule.suppress_edits",
            [],
            conditions=[
                {
                    "kind": "event_property_is",
                    "key": "content.m\\.relates_to.rel_type",
                    "value": "m.replace",
                }
            ],
        ),
    ]
    content = [_default(".m.rule.contains_user_name", _NOTIFY_SOUND_HIGHLIGHT, pattern=localpart)]
    underride = [
        _default(
            ".m.rule.call",
            ["notify", {"set_tweak": "sound", "value": "ring"}],
            conditions=[_match("type", "m.call.invite")],
        ),
        _default(
            ".m.rule.encrypted_room_one_to_one",
            _NOTIFY_SOUND,
            conditions=[
                {"kind": "room_member_count", "is": "2"},
                _match("type", "m.room.encrypted"),
            ],
        ),
        _default(
            ".m.rule.room_one_to_one",
            _NOTIFY_SOUND,
            conditions=[{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
        ),
        _default(".m.rule.message", ["notify"], conditions=[_match("type", "m.room.message")]),
        _default(".m.rule.encrypted", ["notify"], conditions=[_match("type", "m.room.encrypted")]),
    ]
    return {
        "override": override,
        "content": content,
        "room": [],
        "sender": [],
        "underride": underride,
    }


def _default_kinds() -> dict[str, str]:
    return {
        str(rule["rule_id"]): kind
        for kind, rules in server_default_rules(None).items()
        for rule in rules
    }


DEFAULT_RULE_KINDS: Mapping[str, str] = _default_kinds()


def _served(rule: UserRule) -> JsonDict:
    out: JsonDict = {
        "rule_id": rule.rule_id,
        "default": False,
        "enabled": rule.enabled,
        "actions": rule.actions,
    }
    if rule.kind in ("override", "underride"):
        out["conditions"] = rule.conditions or []
    elif rule.kind == "content":
        out["pattern"] = rule.pattern or ""
    return out


def merge_ruleset(
    user_id: str | None, user_rules: Iterable[UserRule], settings: Iterable[DefaultSetting]
) -> dict[str, list[JsonDict]]:
    """The user's whole `global` ruleset in evaluation order (see the module docstring).

    `user_rules` come in their stored order within each kind; `user_id=None` gives the
    form `evaluate.compile_ruleset` shares between members (see `server_default_rules`).
    """
    defaults = server_default_rules(user_id)
    changed = {s.rule_id: s for s in settings}
    for rules in defaults.values():
        for rule in rules:
            setting = changed.get(str(rule["rule_id"]))
            if setting is not None and setting.enabled is not None:
                rule["enabled"] = setting.enabled
            if setting is not None and setting.actions is not None:
                rule["actions"] = setting.actions
    mine: dict[str, list[JsonDict]] = {kind: [] for kind in KINDS}
    for user_rule in user_rules:
        mine[user_rule.kind].append(_served(user_rule))
    master, *other_overrides = defaults["override"]
    return {
        "override": [master, *mine["override"], *other_overrides],
        "content": [*mine["content"], *defaults["content"]],
        "room": mine["room"],
        "sender": mine["sender"],
        "underride": [*mine["underride"], *defaults["underride"]],
    }


def find_rule(ruleset: Mapping[str, Sequence[JsonDict]], kind: str, rule_id: str) -> JsonDict:
    """The served rule, or `M_NOT_FOUND`."""
    for rule in ruleset.get(kind, ()):
        if rule.get("rule_id") == rule_id:
            return rule
    raise NotFound("The push rule was not found")


# --- what a client may save ----------------------------------------------------------------


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParam(f"Unknown push rule kind {kind[:50]!r}")
    return kind


def check_scope(scope: str) -> None:
    if scope != "global":
        raise InvalidParam("The only push rule scope is 'global'")


def check_user_rule_id(kind: str, rule_id: str) -> None:
    """A rule id a user may create: not reserved (a leading dot), no slash or backslash;
    a room rule's id is a room ID and a sender rule's a user ID (the spec says they are)."""
    if not rule_id or len(rule_id.encode()) > 255:
        raise InvalidParam("A push rule id must have 1 to 255 bytes")
    if rule_id.startswith("."):
        raise InvalidParam("Push rule ids starting with '.' are reserved for server-default rules")
    if "/" in rule_id or "\\" in rule_id:
        raise InvalidParam("Push rule ids must not contain '/' or '\\'")
    try:
        if kind == "room":
            RoomID.parse(rule_id)
        elif kind == "sender":
            UserID.parse(rule_id)
    except InvalidId:
        what = "room ID" if kind == "room" else "user ID"
        raise InvalidParam(f"The id of a {kind} rule must be a {what}") from None


def check_actions(actions: Sequence[object]) -> list[object]:
    """The actions a rule may carry, legacy ones (`dont_notify`, `coalesce`) stripped."""
    if len(actions) > MAX_ACTIONS:
        raise InvalidParam(f"At most {MAX_ACTIONS} actions")
    for action in actions:
        if isinstance(action, str):
            if action != "notify" and action not in LEGACY_ACTIONS:
                raise InvalidParam(f"Unknown action {action[:50]!r}")
        elif not (isinstance(action, dict) and isinstance(action.get("set_tweak"), str)):
            raise InvalidParam("An action is 'notify' or an object with a set_tweak string")
    return strip_legacy(actions)


def check_condition(condition: object) -> JsonDict:
    """A condition of a known kind must carry its parameters; unknown kinds are kept (they
    never match, as the spec says, so a client's newer rule does no harm)."""
    if not isinstance(condition, dict) or not isinstance(condition.get("kind"), str):
        raise InvalidParam("A condition is an object with a 'kind' string")
    kind = condition["kind"]
    key = condition.get("key")
    needs_key = kind in (
        "event_match",
        "event_property_is",
        "event_property_contains",
        "sender_notification_permission",
    )
    if needs_key and (not isinstance(key, str) or not key):
        raise InvalidParam(f"A {kind} condition needs a 'key' string")
    if kind == "event_match":
        pattern = condition.get("pattern")
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
            raise InvalidParam(
                f"An event_match condition needs a 'pattern' of at most {MAX_PATTERN} characters"
            )
    elif kind in ("event_property_is", "event_property_contains"):
        if "value" not in condition or not isinstance(condition["value"], _SCALAR):
            raise InvalidParam(
                f"A {kind} condition needs a string, integer, boolean or null 'value'"
            )
    elif kind == "room_member_count":
        count = condition.get("is")
        if not isinstance(count, str) or not _MEMBER_COUNT.match(count):
            raise InvalidParam("A room_member_count condition needs 'is', like '2' or '>=10'")
    return dict(condition)


def check_rule_body(
    kind: str, conditions: Sequence[object] | None, pattern: str | None
) -> tuple[list[object] | None, str | None]:
    """The conditions (override, underride) or pattern (content) a rule of `kind` keeps."""
    if kind in ("override", "underride"):
        given = list(conditions or [])
        if len(given) > MAX_CONDITIONS:
            raise InvalidParam(f"At most {MAX_CONDITIONS} conditions")
        return [check_condition(c) for c in given], None
    if kind == "content":
        if pattern is None:
            raise MatrixError(400, Codes.MISSING_PARAM, "A content rule needs a 'pattern'")
        if not pattern or len(pattern) > MAX_PATTERN:
            raise InvalidParam(f"A pattern has 1 to {MAX_PATTERN} characters")
        return None, pattern
    return None, None


class PlacementError(MatrixError):
    """`before`/`after` names no user rule of the kind (the spec's example: 400 M_UNKNOWN)."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(400, Codes.UNKNOWN, f"before/after rule not found: {rule_id[:100]}")


def place(
    existing: Sequence[str], rule_id: str, *, before: str | None, after: str | None
) -> list[str]:
    """The kind's rule ids after putting `rule_id` in its place.

    `before` wins when both are given (the spec: the rule becomes "the next most important
    rule with respect to the rule identified by before"); a new rule without either goes
    first, an existing one keeps its place. Only user rules can be named: the defaults
    cannot be interleaved with.
    """
    order = [r for r in existing if r != rule_id]
    anchor = before if before is not None else after
    if anchor is not None:
        if anchor not in order:
            raise PlacementError(anchor)
        index = order.index(anchor) + (0 if before is not None else 1)
        order.insert(index, rule_id)
    elif rule_id in existing:
        order.insert(list(existing).index(rule_id), rule_id)
    else:
        order.insert(0, rule_id)
    return order
