"""What an erasure prunes, and what it must leave alone. Pure: no I/O.

An erasure prunes a person's events as a redaction would (`rooms/rules.py`
`prune_content`): every event they sent, whatever its type (a message, an encrypted
message, a reaction, a room name or topic they set), and every member event about them
(which carries their display name and avatar, even one someone else sent: an invite).
It leaves alone the state events that configure a room for everyone else (its creation,
power levels, join rules, history visibility, guest access, encryption): they hold no
one's words, and pruning them could change what the room allows or, for
`m.room.encryption`, make clients believe the room is no longer encrypted.
"""

from typing import Final

from candor.core.canonical_json import JsonDict
from candor.matrix.constants import EventType
from candor.matrix.rooms.rules import prune_content

ROOM_CONFIGURATION: Final = frozenset(
    {
        EventType.CREATE,
        EventType.POWER_LEVELS,
        EventType.JOIN_RULES,
        EventType.HISTORY_VISIBILITY,
        EventType.GUEST_ACCESS,
        EventType.ENCRYPTION,
    }
)


def erased_content(
    user_id: str, event_type: str, state_key: str | None, sender: str, content: JsonDict
) -> JsonDict | None:
    """The content to store once `user_id` is erased, or None to leave the event as is.

    None for an event neither sent by nor about the person, for a room's configuration,
    and for an event whose content pruning would not change (nothing to rewrite).
    """
    about = event_type == EventType.MEMBER and state_key == user_id
    if sender != user_id and not about:
        return None
    if state_key is not None and event_type in ROOM_CONFIGURATION:
        return None
    pruned = prune_content(event_type, content)
    return None if pruned == content else pruned
