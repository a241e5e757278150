"""Events, transaction ids, receipts and the stream position counter.

Every row that /sync streams carries a `stream_pos` from the single counter in
`stream_positions`, advanced only by the event persister under its lock, so positions
are assigned in commit order and a reader can never skip a row committed late.
"""

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_room_pos", "room_id", "stream_pos"),
        # A state key's history in stream order (history visibility): one index range.
        Index("ix_events_room_state_pos", "room_id", "type", "state_key", "stream_pos"),
        # A room's events in timestamp order (/timestamp_to_event): one index range.
        Index("ix_events_room_ts", "room_id", "origin_server_ts", "stream_pos"),
        # Closes the retry race: one event per (sender, device, scope, txn id), across
        # restarts and workers. Rows without a txn id (NULLs) never conflict.
        UniqueConstraint("sender", "txn_device", "txn_scope", "txn_id", name="uq_events_txn"),
    )

    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    room_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    state_key: Mapped[str | None] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    origin_server_ts: Mapped[int] = mapped_column(BigInteger)
    depth: Mapped[int] = mapped_column(BigInteger)
    prev_event_id: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    redacts: Mapped[str | None] = mapped_column(String(255))
    # The event that redacted this one; content is pruned in place when it is set.
    redacted_by: Mapped[str | None] = mapped_column(String(255))
    # For state events: the content this one replaced (served as unsigned.prev_content).
    prev_content: Mapped[str | None] = mapped_column(Text)
    # For state events: the event this one replaced and its sender (unsigned.replaces_state
    # and unsigned.prev_sender), written with the event so no read has to look them up.
    replaces_state: Mapped[str | None] = mapped_column(String(255))
    prev_sender: Mapped[str | None] = mapped_column(String(255))
    txn_device: Mapped[str | None] = mapped_column(String(255))
    # "send" or "redact": the spec scopes transaction ids per endpoint.
    txn_scope: Mapped[str | None] = mapped_column(String(16))
    txn_id: Mapped[str | None] = mapped_column(String(255))


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_room_pos", "room_id", "stream_pos"),)

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    receipt_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # '' for the unthreaded receipt.
    thread_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255))
    ts: Mapped[int] = mapped_column(BigInteger)
    stream_pos: Mapped[int] = mapped_column(BigInteger)


class StreamPosition(Base):
    """A single row: the last stream position handed out (and committed)."""

    __tablename__ = "stream_positions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
