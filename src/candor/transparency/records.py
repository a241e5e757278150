"""Access records: who read whose data, why, and the commitment the public log holds.

The log's leaf for a record is a salted hash of the record's canonical JSON, so the
public log reveals nothing about who talks to whom, while each person concerned can be
shown the record, its salt and a proof that the log holds exactly that commitment.
Pure: validation and hashing only.
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from candor.core.canonical_json import JsonDict, encode_canonical
from candor.core.errors import CandorError

COMMITMENT_DOMAIN = b"candor/access-record/v1\x00"
SALT_BYTES = 32
MAX_SUBJECTS = 10_000


# Categories that draw nothing on their own: separators (spaces, line and paragraph),
# controls, format characters (zero-width space and joiners, bidi marks, the BOM),
# surrogates, private use, unassigned, and combining marks (which need a base to show).
_INVISIBLE_CATEGORIES: Final = frozenset(
    {"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"}
)
# Letters and symbols that render as blank space (Hangul fillers, the braille blank).
_BLANK_CHARACTERS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible_text(text: str) -> bool:
    """Whether `text` has at least one character a reader would see.

    A justification is read by the people whose data an administrator read; one made only
    of whitespace, zero-width or format characters looks like a reason in the log and
    says nothing, so it is refused like an empty one.
    """
    return any(
        ch not in _BLANK_CHARACTERS and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        for ch in text
    )


class ActorKind(StrEnum):
    PARTNER_APP = "partner_app"
    ADMIN = "admin"
    SYSTEM = "system"


class AccessAction(StrEnum):
    """Every kind of access the log can hold: the one list readers and writers share.

    Each write site names its action from here (`record_access` takes only these), and the
    "Who accessed my data" page words each one (`web/accesses.py`; a test fails for a kind
    without wording). Values are stored in records: never rename one, only add.
    """

    PARTNER_LIST_ROOMS = "partner.list_rooms"
    PARTNER_READ_MESSAGES = "partner.read_room_messages"
    PARTNER_READ_PROFILE = "partner.read_profile"
    ADMIN_READ_MESSAGES = "admin.read_room_messages"
    ADMIN_LIST_USERS = "admin.list_users"
    ADMIN_LIST_ROOMS = "admin.list_rooms"
    ADMIN_READ_REPORTED_EVENT = "admin.read_reported_event"
    ADMIN_WHOIS = "admin.whois"
    # Not a read: the person's content was erased at their request (the log keeps every
    # earlier record about them, and says when their words stopped being served).
    ACCOUNT_ERASED = "account.erased"


class AccessRefused(CandorError):
    """The access cannot be recorded as asked, so it must not happen."""

    status = 400
    errcode = "CANDOR_ACCESS_REFUSED"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    actor_kind: ActorKind
    actor_id: str
    # The grant id for a partner app, the stated justification for an administrator.
    basis: str
    subjects: tuple[str, ...]
    resource: JsonDict
    action: AccessAction
    ts_ms: int

    def to_json(self) -> JsonDict:
        return {
            "v": 1,
            "actor": {"kind": self.actor_kind.value, "id": self.actor_id},
            "basis": self.basis,
            "subjects": list(self.subjects),
            "resource": self.resource,
            "action": self.action.value,
            "ts": self.ts_ms,
        }

    def canonical(self) -> bytes:
        return encode_canonical(self.to_json())


def check_record(record: AccessRecord) -> None:
    """Refuse what may not be recorded, hence may not happen: before anything is written."""
    if not record.actor_id or len(record.actor_id) > 255:
        raise AccessRefused("An access names who is acting")
    if not isinstance(record.action, AccessAction):
        raise AccessRefused("An access names one of the known actions")
    if record.actor_kind is ActorKind.ADMIN and not has_visible_text(record.basis):
        raise AccessRefused("An administrator must state a justification to read a person's data")
    if record.actor_kind is ActorKind.PARTNER_APP and not record.basis:
        raise AccessRefused("A partner app reads only under a grant")
    if len(record.basis) > 2000:
        raise AccessRefused("The justification is too long (2,000 characters at most)")
    if not record.subjects or len(record.subjects) > MAX_SUBJECTS:
        raise AccessRefused("An access names the people whose data it reads")


def commitment(salt: bytes, record_json: bytes) -> bytes:
    """The log leaf: SHA-256 over a domain tag, the salt and the record's canonical JSON."""
    if len(salt) != SALT_BYTES:
        raise ValueError("the salt is 32 bytes")
    return hashlib.sha256(COMMITMENT_DOMAIN + salt + record_json).digest()
