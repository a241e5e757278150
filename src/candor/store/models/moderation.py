"""Moderation: the queue of content reports, and the accounts an administrator restricted."""

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class ModerationReport(Base):
    """One report a user filed about an event, a room or a user (the administrators' queue).

    It holds who reported what and why, never the reported content: an administrator who
    reads the content does so through the access log (`matrix/moderation/service.py`).
    """

    __tablename__ = "moderation_reports"
    __table_args__ = (Index("ix_moderation_reports_status", "status", "report_id"),)

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # "event" | "room" | "user"
    reporter_id: Mapped[str] = mapped_column(String(255), index=True)
    room_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255))
    # The reported user, or the reported event's sender.
    target_user_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    received_ts: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # "open" | "resolved" | "dismissed"
    closed_by: Mapped[str | None] = mapped_column(String(255))
    closed_ts: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)


class AccountRestriction(Base):
    """An account an administrator locked or suspended (no row: neither)."""

    __tablename__ = "account_restrictions"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(255))
    updated_ts: Mapped[int] = mapped_column(BigInteger)
