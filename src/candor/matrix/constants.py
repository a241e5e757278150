"""Matrix protocol strings, named once (no raw "m.room.member" elsewhere)."""

from enum import StrEnum
from typing import Final

SPEC_VERSIONS: Final = (
    "v1.1",
    "v1.2",
    "v1.3",
    "v1.4",
    "v1.5",
    "v1.6",
    "v1.7",
    "v1.8",
    "v1.9",
    "v1.10",
    "v1.11",
)
# Unstable features Candor implements, as /versions names them. Element asks for
# `org.matrix.e2e_cross_signing` before it offers to set up cross-signing and secret
# storage on a new account (everything the MSC1756 family needs is in the stable spec
# and served here). Nothing else is claimed: an advertised feature makes clients call
# endpoints that must then exist.
UNSTABLE_FEATURES: Final = {"org.matrix.e2e_cross_signing": True}
ROOM_VERSION: Final = "10"
# `m.room.create`'s `type` of a space (https://spec.matrix.org/v1.11/client-server-api/#spaces).
SPACE_ROOM_TYPE: Final = "m.space"
SUPPORTED_ROOM_VERSIONS: Final = ("10",)


class EventType(StrEnum):
    CREATE = "m.room.create"
    MEMBER = "m.room.member"
    POWER_LEVELS = "m.room.power_levels"
    JOIN_RULES = "m.room.join_rules"
    HISTORY_VISIBILITY = "m.room.history_visibility"
    GUEST_ACCESS = "m.room.guest_access"
    NAME = "m.room.name"
    TOPIC = "m.room.topic"
    AVATAR = "m.room.avatar"
    CANONICAL_ALIAS = "m.room.canonical_alias"
    ENCRYPTION = "m.room.encryption"
    ENCRYPTED = "m.room.encrypted"
    MESSAGE = "m.room.message"
    REDACTION = "m.room.redaction"
    TYPING = "m.typing"
    RECEIPT = "m.receipt"
    PRESENCE = "m.presence"
    DIRECT = "m.direct"
    TOMBSTONE = "m.room.tombstone"
    SERVER_ACL = "m.room.server_acl"
    SPACE_CHILD = "m.space.child"


class Membership(StrEnum):
    JOIN = "join"
    INVITE = "invite"
    LEAVE = "leave"
    BAN = "ban"
    KNOCK = "knock"


class JoinRule(StrEnum):
    PUBLIC = "public"
    INVITE = "invite"
    KNOCK = "knock"
    PRIVATE = "private"
    RESTRICTED = "restricted"
    KNOCK_RESTRICTED = "knock_restricted"


class HistoryVisibility(StrEnum):
    WORLD_READABLE = "world_readable"
    SHARED = "shared"
    INVITED = "invited"
    JOINED = "joined"


class Preset(StrEnum):
    PRIVATE_CHAT = "private_chat"
    TRUSTED_PRIVATE_CHAT = "trusted_private_chat"
    PUBLIC_CHAT = "public_chat"


class KeyAlgorithm(StrEnum):
    ED25519 = "ed25519"
    CURVE25519 = "curve25519"
    SIGNED_CURVE25519 = "signed_curve25519"


class CrossSigningKeyType(StrEnum):
    MASTER = "master"
    SELF_SIGNING = "self_signing"
    USER_SIGNING = "user_signing"


MEGOLM_ALGORITHM: Final = "m.megolm.v1.aes-sha2"
# The largest to-device message content accepted, the same bound as an event's.
MAX_TO_DEVICE_BYTES: Final = 65536


class LoginType(StrEnum):
    PASSWORD = "m.login.password"
    DUMMY = "m.login.dummy"
    TOKEN = "m.login.token"


# State that invitees see before joining (stripped state), per the spec's recommendation.
STRIPPED_STATE_TYPES: Final = (
    EventType.CREATE,
    EventType.JOIN_RULES,
    EventType.NAME,
    EventType.AVATAR,
    EventType.CANONICAL_ALIAS,
    EventType.ENCRYPTION,
    EventType.TOPIC,
)
