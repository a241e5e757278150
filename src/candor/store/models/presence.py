"""Presence: each person's last set state, status message and last activity.

One row per person who ever set presence (or synced) while presence was enabled. A change
of state or status message takes a position of the one stream counter, written by the
event persister in the same transaction, so /sync reads the changes of a window as a
range of `stream_pos` (`ix_presence_pos`). Going idle or offline is not written: it is
worked out from `last_active_ts` when read (`matrix/presence/rules.py`).
"""

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Presence(Base):
    __tablename__ = "presence"
    __table_args__ = (Index("ix_presence_pos", "stream_pos"),)

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    status_msg: Mapped[str | None] = mapped_column(Text)
    # The last /sync or presence update of a client of theirs, in ms (throttled).
    last_active_ts: Mapped[int] = mapped_column(BigInteger)
    stream_pos: Mapped[int] = mapped_column(BigInteger)
