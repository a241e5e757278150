"""Presence as others see it, worked out when read: pure, no I/O.

Why at read time: going idle or offline is the absence of activity, and writing it would
need a timer per person (or a sweep over everyone). Instead a row keeps the state the
person set and when a client of theirs was last seen; whoever reads it applies the
thresholds. The cost: a room-mate's /sync is not woken when someone merely goes quiet;
their client learns it from the next change, or from `last_active_ago`, which grows.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from candor.core.canonical_json import JsonDict


class PresenceState(StrEnum):
    ONLINE = "online"
    UNAVAILABLE = "unavailable"
    OFFLINE = "offline"


PRESENCE_STATES: Final = frozenset(s.value for s in PresenceState)
# A client counts as in use ("currently_active") while seen this recently: long-polls last
# up to a minute and activity is written at most once a minute (`ACTIVITY_GRANULARITY_MS`).
CURRENTLY_ACTIVE_MS: Final = 180_000
# Activity alone (no change of state) is written at most this often per person.
ACTIVITY_GRANULARITY_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class StoredPresence:
    """A presence row as stored: what the person set, and when they were last seen."""

    user_id: str
    state: str
    status_msg: str | None
    last_active_ts: int
    stream_pos: int


@dataclass(frozen=True, slots=True)
class Thresholds:
    idle_after_ms: int
    offline_after_ms: int


def effective_state(row: StoredPresence | None, now_ms: int, t: Thresholds) -> PresenceState:
    """The state others see now: offline when never set or quiet past `offline_after_ms`,
    unavailable when set online but quiet past `idle_after_ms`."""
    if row is None or row.state == PresenceState.OFFLINE:
        return PresenceState.OFFLINE
    quiet = now_ms - row.last_active_ts
    if quiet >= t.offline_after_ms:
        return PresenceState.OFFLINE
    if row.state == PresenceState.ONLINE and quiet >= t.idle_after_ms:
        return PresenceState.UNAVAILABLE
    return PresenceState(row.state)


def presence_content(row: StoredPresence | None, now_ms: int, t: Thresholds) -> JsonDict:
    """The `m.presence` content (and GET .../status body) for `row` as of `now_ms`."""
    state = effective_state(row, now_ms, t)
    content: JsonDict = {"presence": state.value}
    if row is None:
        return content
    ago = max(now_ms - row.last_active_ts, 0)
    content["last_active_ago"] = ago
    content["currently_active"] = state == PresenceState.ONLINE and ago < CURRENTLY_ACTIVE_MS
    if row.status_msg is not None:
        content["status_msg"] = row.status_msg
    return content


def is_change(
    row: StoredPresence | None,
    state: PresenceState,
    status_msg: str | None,
    now_ms: int,
    t: Thresholds,
) -> bool:
    """Whether setting (`state`, `status_msg`) changes what others see, so it takes a new
    stream position and wakes them; otherwise only the activity time moves (quietly).

    Compared with the state others see now: a person who reads as idle or offline and
    comes back online is a change even though the stored state was already online."""
    if row is None:
        return state != PresenceState.OFFLINE or status_msg is not None
    return effective_state(row, now_ms, t) != state or row.status_msg != status_msg
