"""Relations between events (edits, reactions, replies in threads, references) and threads.

`event_relations` has one row per event whose content carries `m.relates_to` with a
`rel_type` and an `event_id` (one relation per event, so the child is the key). It is
written in the event's own transaction by the persister's relations observer and loses a
row when the child is redacted (redacted relations are not aggregated). Its indexes start
with the parent, so a page of a parent's children is one index range whatever the room's
length. `event_threads` keeps one row per thread root with its latest reply and reply
count, so the thread list of a room is a range of (room_id, latest_pos).
"""

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class EventRelation(Base):
    __tablename__ = "event_relations"
    __table_args__ = (
        Index("ix_event_relations_parent_pos", "relates_to", "stream_pos"),
        Index("ix_event_relations_parent_rel_pos", "relates_to", "rel_type", "stream_pos"),
        Index(
            "ix_event_relations_parent_rel_type_pos", "relates_to", "rel_type", "type", "stream_pos"
        ),
    )

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    relates_to: Mapped[str] = mapped_column(String(255))
    rel_type: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    stream_pos: Mapped[int] = mapped_column(BigInteger)


class EventThread(Base):
    __tablename__ = "event_threads"
    __table_args__ = (Index("ix_event_threads_room_latest", "room_id", "latest_pos"),)

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    root_event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    latest_event_id: Mapped[str] = mapped_column(String(255))
    latest_pos: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
