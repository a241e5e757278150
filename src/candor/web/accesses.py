"""The "Who accessed my data" page's wording: access records as plain-language rows.

Records are validated when written (`transparency/records.py`), but this page must never
fail on an older or unfamiliar shape, so every field is read defensively and an unknown
actor kind, action or resource is shown as it is rather than dropped. Pure.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from candor.core.canonical_json import JsonDict
from candor.matrix.privacy.service import MyAccesses

Status = Literal["verified", "pending", "failed"]

ACTOR_KINDS = {
    "admin": "An administrator",
    "partner_app": "A partner app",
    "system": "The system",
}
BASIS_LABELS = {
    "admin": "Justification given",
    "partner_app": "Under grant",
    "system": "Reason",
}
ACTIONS = {
    "admin.read_room_messages": "read messages in a conversation",
}


@dataclass(frozen=True, slots=True)
class AccessRow:
    index: int
    who: str
    actor_id: str
    what: str
    action_code: str
    resource: str
    why_label: str
    why: str
    when: str
    when_iso: str
    people: int
    status: Status


@dataclass(frozen=True, slots=True)
class AccessesView:
    rows: list[AccessRow]
    checkpoint_size: int
    checkpoint_origin: str
    limit: int

    @property
    def pending(self) -> int:
        return sum(1 for row in self.rows if row.status == "pending")

    @property
    def maybe_more(self) -> bool:
        """The page shows the newest `limit` records; there may be older ones."""
        return len(self.rows) >= self.limit


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def human_time(ts_ms: int) -> tuple[str, str]:
    """("29 November 2026, 12:20:05 UTC", ISO 8601) for a Matrix millisecond timestamp."""
    try:
        when = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ("an unknown time", "")
    text = f"{when.day} {when:%B %Y}, {when:%H:%M:%S} UTC"
    return text, when.isoformat(timespec="seconds").replace("+00:00", "Z")


def describe_resource(resource: JsonDict) -> str:
    """Which data: a room and the span read, or the record's fields as given.

    `from`/`to` are the server's stream positions (shared by all rooms), so they are
    named as such rather than passed off as a count; `count` is the number read.
    """
    room = _str(resource.get("room_id"))
    first, last, count = (_int(resource.get(k)) for k in ("from", "to", "count"))
    if room:
        text = f"conversation {room}"
        if count is not None:
            noun = "message or event" if count == 1 else "messages and events"
            text = f"{count} {noun} in {text}"
        else:
            text = text[0].upper() + text[1:]
        if first is not None and last is not None:
            span = f"position {first}" if first == last else f"positions {first} to {last}"
            text += f" (stream {span})"
        return text
    parts = [f"{key}: {resource[key]}" for key in sorted(resource)]
    return "; ".join(parts) or "not stated"


def access_row(item: JsonDict) -> AccessRow:
    record = _dict(item.get("record"))
    actor = _dict(record.get("actor"))
    kind = _str(actor.get("kind"))
    action = _str(record.get("action"))
    subjects = record.get("subjects")
    ts = _int(record.get("ts"))
    when, when_iso = human_time(ts) if ts is not None else ("an unknown time", "")
    status: Status
    if item.get("verified") is True:
        status = "verified"
    elif item.get("proof") is None:
        status = "pending"
    else:
        status = "failed"
    return AccessRow(
        index=_int(item.get("index")) or 0,
        who=ACTOR_KINDS.get(kind, f"Someone of kind “{kind}”" if kind else "Someone"),
        actor_id=_str(actor.get("id")),
        what=ACTIONS.get(action, action or "an unnamed action"),
        action_code=action,
        resource=describe_resource(_dict(record.get("resource"))),
        why_label=BASIS_LABELS.get(kind, "Reason"),
        why=_str(record.get("basis")) or "none given",
        when=when,
        when_iso=when_iso,
        people=len(subjects) if isinstance(subjects, list) else 0,
        status=status,
    )


def accesses_view(found: MyAccesses, limit: int) -> AccessesView:
    return AccessesView(
        rows=[access_row(item) for item in found.records],
        checkpoint_size=found.size,
        checkpoint_origin=found.origin,
        limit=limit,
    )
