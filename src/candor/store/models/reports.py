"""Engagement reports, their privacy budget and their webhook deliveries.

A report is stored once per (app, period) as the exact signed canonical JSON, so a
re-run returns the same bytes (and, in DP mode, spends no more ε: the noise is drawn once).
Deliveries are a queue in the database, so a restart resumes them and a delivery attempt
is never lost from the record the partner sees in the portal.
"""

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("client_id", "period_start", "period_end"),)

    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    period_start: Mapped[str] = mapped_column(String(10))  # UTC day, inclusive
    period_end: Mapped[str] = mapped_column(String(10))  # UTC day, inclusive
    agreement_version: Mapped[int] = mapped_column(Integer)
    privacy: Mapped[str] = mapped_column(String(32))
    epsilon: Mapped[float | None] = mapped_column(Float)  # ε spent; None for k-threshold
    body: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as signed
    signature: Mapped[str] = mapped_column(Text)  # the detached signature document (JSON)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class ReportDelivery(Base):
    """One report's delivery to the app's webhook; `delivery_id` is the webhook-id."""

    __tablename__ = "report_deliveries"
    __table_args__ = (Index("ix_report_deliveries_due", "status", "next_attempt_ts"),)

    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    report_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("reports.report_id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_ts: Mapped[int] = mapped_column(BigInteger)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    delivered_ts: Mapped[int | None] = mapped_column(BigInteger)


class ReportDeliveryAttempt(Base):
    """Every try, as the partner sees it in the portal: when, the answer, or the error."""

    __tablename__ = "report_delivery_attempts"

    delivery_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("report_deliveries.delivery_id", ondelete="CASCADE"),
        primary_key=True,
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
