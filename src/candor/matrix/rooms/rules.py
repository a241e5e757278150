"""Room authorization rules for one server: who may send, invite, kick, ban, change state.

Pure functions over the room's current auth state, following the spec's authorization
rules (https://spec.matrix.org/v1.11/rooms/v10/#authorization-rules) for the cases a
single linear room can reach. No I/O: the persister supplies the state, these decide.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType, JoinRule, Membership
from candor.matrix.errors import Forbidden

DEFAULT_POWER_LEVELS: Mapping[str, int] = {
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
    "events_default": 0,
    "state_default": 50,
    "users_default": 0,
}


def _as_int(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


@dataclass(frozen=True, slots=True)
class AuthState:
    """The slice of current state the rules read."""

    creator: str | None
    power_levels: JsonDict | None
    join_rule: str
    memberships: Mapping[str, str] = field(default_factory=dict)

    def membership(self, user_id: str) -> str:
        return self.memberships.get(user_id, Membership.LEAVE)

    def user_level(self, user_id: str) -> int:
        if self.power_levels is None:
            return 100 if user_id == self.creator else 0
        users = self.power_levels.get("users")
        default = _as_int(self.power_levels.get("users_default"), 0)
        if isinstance(users, dict) and user_id in users:
            return _as_int(users[user_id], default)
        return default

    def level(self, key: str) -> int:
        """A named threshold (ban, kick, redact, invite)."""
        if self.power_levels is None:
            return 0 if key in ("invite", "events_default", "state_default") else 50
        return _as_int(self.power_levels.get(key), DEFAULT_POWER_LEVELS[key])

    def event_level(self, event_type: str, is_state: bool) -> int:
        if self.power_levels is None:
            return 0
        events = self.power_levels.get("events")
        if isinstance(events, dict) and event_type in events:
            return _as_int(events[event_type], 0)
        key = "state_default" if is_state else "events_default"
        return _as_int(self.power_levels.get(key), DEFAULT_POWER_LEVELS[key])


def check_membership_change(
    state: AuthState, sender: str, target: str, membership: str, content: JsonDict | None = None
) -> None:
    """Raise Forbidden unless `sender` may set `target`'s membership to `membership`
    (`content`: the new member event's, read for a restricted join's voucher)."""
    current = state.membership(target)
    sender_membership = state.membership(sender)
    if membership == Membership.JOIN:
        if sender != target:
            raise Forbidden("Cannot force another user to join")
        if current == Membership.BAN:
            raise Forbidden("You are banned from this room")
        if current in (Membership.JOIN, Membership.INVITE) or state.join_rule == JoinRule.PUBLIC:
            return
        if state.power_levels is None and sender == state.creator:
            return  # the creator's first join, right after m.room.create
        if state.join_rule in (JoinRule.RESTRICTED, JoinRule.KNOCK_RESTRICTED):
            # Room version 8+: allowed when vouched for by a joined member who may invite
            # (the server checked `allow` before it vouched, `restricted.py`).
            voucher = (content or {}).get("join_authorised_via_users_server")
            if (
                isinstance(voucher, str)
                and state.membership(voucher) == Membership.JOIN
                and state.user_level(voucher) >= state.level("invite")
            ):
                return
        raise Forbidden("You are not invited to this room")
    if membership == Membership.INVITE:
        if sender_membership != Membership.JOIN:
            raise Forbidden("You are not in this room")
        if current == Membership.BAN:
            raise Forbidden(f"{target} is banned from the room")
        if current == Membership.JOIN:
            raise Forbidden(f"{target} is already in the room")
        if state.user_level(sender) < state.level("invite"):
            raise Forbidden("You do not have permission to invite users")
        return
    if membership == Membership.LEAVE:
        if sender == target:
            if current in (Membership.JOIN, Membership.INVITE, Membership.KNOCK):
                return
            raise Forbidden("You are not in this room")
        if sender_membership != Membership.JOIN:
            raise Forbidden("You are not in this room")
        if current == Membership.BAN:
            if state.user_level(sender) < state.level("ban"):
                raise Forbidden("You do not have permission to unban users")
            return
        if current not in (Membership.JOIN, Membership.INVITE, Membership.KNOCK):
            raise Forbidden(f"{target} is not in the room")
        _check_outranks(state, sender, target, "kick")
        return
    if membership == Membership.BAN:
        if sender_membership != Membership.JOIN:
            raise Forbidden("You are not in this room")
        _check_outranks(state, sender, target, "ban")
        return
    if membership == Membership.KNOCK:
        _check_knock(state, sender, target, current)
        return
    raise Forbidden(f"Membership {membership!r} is not supported")


# Join rules under which a room takes knocks (room versions 7+; every version Candor serves).
KNOCKABLE_JOIN_RULES = frozenset({JoinRule.KNOCK, JoinRule.KNOCK_RESTRICTED})


def _check_knock(state: AuthState, sender: str, target: str, current: str) -> None:
    """Room version 10's rule for a knock: only under a knock join rule, only for oneself,
    and not from a membership that already is more than a knock (join, invite) or a ban.
    A knock is answered with an invite (accept) or a kick (deny), both checked above."""
    if state.join_rule not in KNOCKABLE_JOIN_RULES:
        raise Forbidden("This room does not accept knocks")
    if sender != target:
        raise Forbidden("You can only knock for yourself")
    if current == Membership.BAN:
        raise Forbidden("You are banned from this room")
    if current == Membership.JOIN:
        raise Forbidden("You are already in this room")
    if current == Membership.INVITE:
        raise Forbidden("You are already invited to this room")


def _check_outranks(state: AuthState, sender: str, target: str, action: str) -> None:
    sender_level = state.user_level(sender)
    if sender_level < state.level(action):
        raise Forbidden(f"You do not have permission to {action} users")
    if sender != target and state.user_level(target) >= sender_level:
        raise Forbidden(f"You cannot {action} a user with a power level not below yours")


def check_send(
    state: AuthState, sender: str, event_type: str, state_key: str | None, content: JsonDict
) -> None:
    """Raise Forbidden unless `sender` may send this (non-membership) event."""
    if state.membership(sender) != Membership.JOIN:
        raise Forbidden("You are not in this room")
    is_state = state_key is not None
    if state.user_level(sender) < state.event_level(event_type, is_state):
        raise Forbidden(f"You do not have permission to send {event_type}")
    if is_state and state_key and state_key.startswith("@") and state_key != sender:
        raise Forbidden("State keys that are user ids may only be set by that user")
    if event_type == EventType.POWER_LEVELS:
        check_power_levels_change(state, sender, content)


def _levels(content: JsonDict | None) -> dict[str, int]:
    """Flatten a power levels event into comparable (key → level) entries."""
    if content is None:
        return {}
    flat: dict[str, int] = {}
    for key in DEFAULT_POWER_LEVELS:
        if key in content:
            flat[key] = _as_int(content[key], 0)
    for group in ("users", "events", "notifications"):
        sub = content.get(group)
        if isinstance(sub, dict):
            for k, v in sub.items():
                flat[f"{group}\x00{k}"] = _as_int(v, 0)
    return flat


def check_power_levels_change(state: AuthState, sender: str, content: JsonDict) -> None:
    """No one may grant or revoke power above their own, or change a peer's level."""
    for group in ("users", "events", "notifications"):
        if group in content and not isinstance(content[group], dict):
            raise Forbidden(f"power_levels.{group} must be an object")
    if state.power_levels is None:
        return
    sender_level = state.user_level(sender)
    old = _levels(state.power_levels)
    new = _levels(content)
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is not None and before > sender_level:
            raise Forbidden("You cannot change a level above your own")
        if after is not None and after > sender_level:
            raise Forbidden("You cannot grant a level above your own")
        if key.startswith("users\x00"):
            user = key.split("\x00", 1)[1]
            if user != sender and before is not None and before == sender_level:
                raise Forbidden("You cannot change the level of a user with your level")


def check_redact(state: AuthState, sender: str, target_sender: str) -> None:
    if state.membership(sender) != Membership.JOIN:
        raise Forbidden("You are not in this room")
    if state.user_level(sender) < state.event_level(EventType.REDACTION, False):
        raise Forbidden("You do not have permission to redact")
    if sender != target_sender and state.user_level(sender) < state.level("redact"):
        raise Forbidden("You do not have permission to redact other users' events")


def check_encryption_change(
    current: JsonDict | None, state_key: str | None, content: JsonDict
) -> None:
    """An encrypted room stays encrypted (DESIGN invariant 3).

    `current` is the content of the room's m.room.encryption state, if any. The new event
    must name an algorithm and, once there is one, keep it; only its rotation parameters
    may change. A state key other than "" would be a second, ignored setting that could
    confuse clients, so it is refused too.
    """
    if state_key is None:
        return  # sent as a message it is not state, and changes nothing
    if state_key != "":
        raise Forbidden("m.room.encryption takes the empty state key")
    algorithm = content.get("algorithm")
    if not isinstance(algorithm, str) or not algorithm:
        raise Forbidden("m.room.encryption must name an algorithm; encryption cannot be removed")
    if current is not None and current.get("algorithm") != algorithm:
        raise Forbidden("The encryption algorithm of a room cannot be changed")


def check_redact_target(target_type: str, target_state_key: str | None) -> None:
    """Redacting m.room.encryption would strip its algorithm: unencrypting by the back door."""
    if target_type == EventType.ENCRYPTION and target_state_key is not None:
        raise Forbidden("The encryption of a room cannot be removed")


def auth_state_from(
    events: Iterable[tuple[str, str | None, str, JsonDict]],
) -> AuthState:
    """Build an AuthState from (type, state_key, sender, content) of current state."""
    creator: str | None = None
    power_levels: JsonDict | None = None
    join_rule = JoinRule.INVITE.value
    memberships: dict[str, str] = {}
    for ev_type, state_key, sender, content in events:
        if ev_type == EventType.CREATE:
            raw = content.get("creator")
            creator = raw if isinstance(raw, str) else sender
        elif ev_type == EventType.POWER_LEVELS:
            power_levels = content
        elif ev_type == EventType.JOIN_RULES:
            rule = content.get("join_rule")
            join_rule = rule if isinstance(rule, str) else join_rule
        elif ev_type == EventType.MEMBER and state_key is not None:
            m = content.get("membership")
            memberships[state_key] = m if isinstance(m, str) else Membership.LEAVE
    return AuthState(creator, power_levels, join_rule, memberships)


# Keys that survive redaction, per room version 10's redaction algorithm.
_REDACTION_KEEP: Mapping[str, tuple[str, ...]] = {
    EventType.MEMBER: ("membership", "join_authorised_via_users_server"),
    EventType.CREATE: ("creator",),
    EventType.JOIN_RULES: ("join_rule", "allow"),
    EventType.POWER_LEVELS: (
        "ban",
        "events",
        "events_default",
        "kick",
        "redact",
        "state_default",
        "users",
        "users_default",
    ),
    EventType.HISTORY_VISIBILITY: ("history_visibility",),
}


def prune_content(event_type: str, content: JsonDict) -> JsonDict:
    keep = _REDACTION_KEEP.get(event_type, ())
    return {k: v for k, v in content.items() if k in keep}
