"""Shares, their cards and per-recipient click counts, shaped for the engagement report.

A share carries the day and the partner's labels (interface, surface, variant), a card is
one room message, and a recipient row counts one person's clicks on one card, so the
report is a GROUP BY over these tables with no user or room id in its output. No IP
address or user agent is stored anywhere (DESIGN invariant 5). Card tokens are stored
only as HMACs (invariant 6).
"""

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Share(Base):
    __tablename__ = "shares"

    share_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    interface: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10), index=True)  # UTC, YYYY-MM-DD
    ts: Mapped[int] = mapped_column(BigInteger)


class ShareCard(Base):
    __tablename__ = "share_cards"

    card_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    share_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("shares.share_id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    # Unique: a token resolves to exactly one card.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    unencrypted_in_encrypted_room: Mapped[bool] = mapped_column(Boolean)


class ShareRecipient(Base):
    """One person's clicks on one card; the primary key makes the first click count once."""

    __tablename__ = "share_recipients"

    card_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("share_cards.card_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_click_ts: Mapped[int | None] = mapped_column(BigInteger)
    repeat_clicks: Mapped[int] = mapped_column(Integer, default=0)


class ShareRequest(Base):
    """A share an app proposed (`POST /partner/v1/shares`); only the person can send it."""

    __tablename__ = "share_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    interface: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(32))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    share_id: Mapped[str | None] = mapped_column(String(64))


class ShareEvent(Base):
    """The engagement report's fact table: one row per card sent and per counted click.

    Written in the same transaction as the card or the click, so the report is exact. The
    labels and the day are copied in so that one app's period is one index range scan
    with no join (`bench/reports.py`). `kind`: SEND (a card; `recipients` = the people it
    went to), FIRST_CLICK (a recipient's first click on a card) or REPEAT_CLICK. `person`
    is the sender of a SEND and the clicker of a click: it is only counted (distinct
    people per cell, for the k threshold), never reported.
    """

    __tablename__ = "share_events"
    # Covering, in GROUP BY order: the report reads only this index (`bench/reports.py`:
    # 7.7 s → 1.6 s for 3.7 M events on SQLite, 6.9 s → 1.7 s on PostgreSQL).
    __table_args__ = (
        Index(
            "ix_share_events_cell",
            "client_id",
            "day",
            "interface",
            "surface",
            "variant",
            "person",
            "kind",
            "recipients",
        ),
    )

    SEND = 1
    FIRST_CLICK = 2
    REPEAT_CLICK = 3

    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # UTC day of the send or click
    interface: Mapped[str] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(32))
    kind: Mapped[int] = mapped_column(SmallInteger)
    person: Mapped[str] = mapped_column(String(255))
    recipients: Mapped[int] = mapped_column(Integer)
    card_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[int] = mapped_column(BigInteger)
