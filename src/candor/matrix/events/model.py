"""Event values shared by the persister, rooms and sync (frozen, no I/O)."""

from collections.abc import Iterable
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a service wants appended; the persister gives it id, position and depth."""

    room_id: str
    type: str
    sender: str
    content: JsonDict
    state_key: str | None = None
    redacts: str | None = None
    # (device_id, scope, txn_id) for idempotent client sends.
    txn: tuple[str, str, str] | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    stream_pos: int
    event_id: str
    room_id: str
    type: str
    state_key: str | None
    sender: str
    origin_server_ts: int
    content: JsonDict
    redacts: str | None = None
    redacted_by: str | None = None
    prev_content: JsonDict | None = None
    # The state event this one replaced, and who sent it (served in `unsigned`).
    replaces_state: str | None = None
    prev_sender: str | None = None
    txn_device: str | None = None
    txn_scope: str | None = None
    txn_id: str | None = None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None


def people_in(events: Iterable[StoredEvent]) -> set[str]:
    """Everyone whose data a range of events is: each sender, and each member event's subject.

    An access record names them all (DESIGN invariant 2): a person who has since left, or
    who was invited or kicked by someone else, is still someone whose words or membership
    the range holds.
    """
    out: set[str] = set()
    for ev in events:
        out.add(ev.sender)
        if ev.type == EventType.MEMBER and ev.state_key:
            out.add(ev.state_key)
    return out


def serialize_event(
    ev: StoredEvent,
    *,
    now_ms: int,
    requester_device: tuple[str, str] | None = None,
    with_room_id: bool = True,
) -> JsonDict:
    """The client-server format of an event (`ClientEvent`), with `unsigned` filled in.

    `transaction_id` goes only to the device that sent the event, as the spec requires, so
    clients can match their local echo.
    """
    out: JsonDict = {
        "type": ev.type,
        "content": ev.content,
        "sender": ev.sender,
        "event_id": ev.event_id,
        "origin_server_ts": ev.origin_server_ts,
    }
    if with_room_id:
        out["room_id"] = ev.room_id
    if ev.state_key is not None:
        out["state_key"] = ev.state_key
    if ev.redacts is not None:
        out["redacts"] = ev.redacts
    unsigned: JsonDict = {"age": max(0, now_ms - ev.origin_server_ts)}
    if ev.replaces_state is not None:
        # The replaced event's content and sender were stored with this one, so no read
        # looks them up; a redaction of the replaced event prunes the stored copy too.
        unsigned["replaces_state"] = ev.replaces_state
        if ev.prev_sender is not None:
            unsigned["prev_sender"] = ev.prev_sender
    if ev.prev_content is not None:
        unsigned["prev_content"] = ev.prev_content
    if ev.redacted_by is not None:
        unsigned["redacted_because"] = {"event_id": ev.redacted_by, "type": "m.room.redaction"}
    if (
        requester_device is not None
        and ev.txn_id is not None
        and ev.txn_scope == "send"
        and requester_device == (ev.sender, ev.txn_device)
    ):
        unsigned["transaction_id"] = ev.txn_id
    out["unsigned"] = unsigned
    return out
