"""The spec's predefined push rules (https://spec.matrix.org/v1.11/client-server-api/#predefined-rules).

Served read-only so clients that expect a rule set work; Candor does not yet evaluate them.
"""

from candor.core.canonical_json import JsonDict

_NOTIFY_SOUND: list[object] = ["notify", {"set_tweak": "sound", "value": "default"}]
_NOTIFY_HIGHLIGHT: list[object] = [
    "notify",
    {"set_tweak": "sound", "value": "default"},
    {"set_tweak": "highlight"},
]


def _rule(
    rule_id: str, conditions: list[JsonDict], actions: list[object], **extra: object
) -> JsonDict:
    return {
        "rule_id": rule_id,
        "default": True,
        "enabled": rule_id != ".m.rule.master",
        "conditions": conditions,
        "actions": actions,
        **extra,
    }


def _event_match(key: str, pattern: str) -> JsonDict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def default_push_rules(user_id: str) -> JsonDict:
    localpart = user_id[1:].split(":", 1)[0]
    override = [
        _rule(".m.rule.master", [], []),
        _rule(".m.rule.suppress_notices", [_event_match("content.msgtype", "m.notice")], []),
        _rule(
            ".m.rule.invite_for_me",
            [
                _event_match("type", "m.room.member"),
                _event_match("content.membership", "invite"),
                _event_match("state_key", user_id),
            ],
            _NOTIFY_SOUND,
        ),
        _rule(".m.rule.member_event", [_event_match("type", "m.room.member")], []),
        _rule(
            ".m.rule.is_user_mention",
            [
                {
                    "kind": "event_property_contains",
                    "key": "content.m\\.mentions.user_ids",
                    "value": user_id,
                }
            ],
            _NOTIFY_HIGHLIGHT,
        ),
        _rule(
            ".m.rule.is_room_mention",
            [
                {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
                {"kind": "sender_notification_permission", "key": "room"},
            ],
            ["notify", {"set_tweak": "highlight"}],
        ),
        _rule(
            ".m.rule.tombstone",
            [_event_match("type", "m.room.tombstone"), _event_match("state_key", "")],
            ["notify", {"set_tweak": "highlight"}],
        ),
        _rule(".m.rule.reaction", [_event_match("type", "m.reaction")], []),
        _rule(
            ".m.rule.room.server_acl",
            [_event_match("type", "m.room.server_acl"), _event_match("state_key", "")],
            [],
        ),
        _rule(
            ".m.rule.suppress_edits",
            [
                {
                    "kind": "event_property_is",
                    "key": "content.m\\.relates_to.rel_type",
                    "value": "m.replace",
                }
            ],
            [],
        ),
    ]
    content = [
        _rule(".m.rule.contains_user_name", [], _NOTIFY_HIGHLIGHT, pattern=localpart),
    ]
    underride = [
        _rule(
            ".m.rule.call",
            [_event_match("type", "m.call.invite")],
            ["notify", {"set_tweak": "sound", "value": "ring"}],
        ),
        _rule(
            ".m.rule.encrypted_room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _event_match("type", "m.room.encrypted")],
            _NOTIFY_SOUND,
        ),
        _rule(
            ".m.rule.room_one_to_one",
            [{"kind": "room_member_count", "is": "2"}, _event_match("type", "m.room.message")],
            _NOTIFY_SOUND,
        ),
        _rule(".m.rule.message", [_event_match("type", "m.room.message")], ["notify"]),
        _rule(".m.rule.encrypted", [_event_match("type", "m.room.encrypted")], ["notify"]),
    ]
    return {
        "global": {
            "override": override,
            "content": content,
            "room": [],
            "sender": [],
            "underride": underride,
        }
    }
