"""History visibility: which events a user may see, by their membership at each event.

https://spec.matrix.org/v1.11/client-server-api/#history-visibility. Rooms are linear on
one server, so "membership at an event" is the user's latest membership event at or
before that event's stream position. Pure: callers pass both histories, oldest first.
"""

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from candor.matrix.constants import HistoryVisibility, Membership


@dataclass(frozen=True, slots=True)
class VisibilityContext:
    memberships: Sequence[tuple[int, str]]  # (stream_pos, membership) of the user
    visibilities: Sequence[tuple[int, str]]  # (stream_pos, history_visibility)

    def _membership_at(self, pos: int) -> str:
        i = bisect_right(self.memberships, pos, key=lambda m: m[0])
        return self.memberships[i - 1][1] if i else Membership.LEAVE

    def _visibility_before(self, pos: int) -> str:
        # The setting in force when the event was sent: state *before* it.
        i = bisect_right(self.visibilities, pos - 1, key=lambda v: v[0])
        return self.visibilities[i - 1][1] if i else HistoryVisibility.SHARED

    def _joined_later(self, pos: int) -> bool:
        return any(p >= pos and m == Membership.JOIN for p, m in self.memberships)

    def is_visible(self, pos: int) -> bool:
        if any(p == pos for p, _ in self.memberships):
            return True  # a user always sees their own membership changes (e.g. their leave)
        visibility = self._visibility_before(pos)
        if visibility == HistoryVisibility.WORLD_READABLE:
            return True
        membership = self._membership_at(pos)
        if membership == Membership.JOIN:
            return True
        if visibility == HistoryVisibility.SHARED:
            # Visible to anyone who joined at or after the event, and (as in Synapse, so
            # that shared is never narrower than invited) to an invitee.
            if membership == Membership.INVITE:
                return True
            return self._joined_later(pos) and membership != Membership.BAN
        if visibility == HistoryVisibility.INVITED:
            return membership == Membership.INVITE
        return False

    def joined_throughout(self, first: int) -> bool:
        """Whether the user is joined from `first` on: every event from there is then
        visible to them (`is_visible`), so a page of them needs no per-event check."""
        if not self.memberships:
            return False
        pos, membership = self.memberships[-1]
        return membership == Membership.JOIN and pos <= first

    def is_visible_at_all(self) -> bool:
        """Whether the user could ever see anything (was invited or joined, or world_readable)."""
        return any(m in (Membership.JOIN, Membership.INVITE) for _, m in self.memberships) or any(
            v == HistoryVisibility.WORLD_READABLE for _, v in self.visibilities
        )
