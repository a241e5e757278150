"""Push rules, pushers, notifications and the push gateway's delivery queue (issue 15 item 6).

Notifications are stored per event, not per recipient: a message in a room of 64 people is
one `notification_events` row (the outcome the server-default rules give a member whom
nothing in the event singles out: "notify", no highlight, say), plus a `notifications`
row only for each member whose own outcome differs (a mention, a muted room, an invite).
A member's count is then "baseline rows after their read position, minus their
exceptions, plus their notifying exceptions". Writing one row per member per message
cost more than the issue's whole 10 % budget for the send path (measured: 0.20-0.32 ms of
SQLite per message for 63 rows, against 1.44 ms for the whole send). Who counted as a
member of a room at an event comes from `push_memberships`: one row per stretch of a
user's joined membership, kept by the same code that records notifications.
"""

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class PushRule(Base):
    """A rule a user defined; `position` orders a user's rules of one kind (0 first)."""

    __tablename__ = "push_rules"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    # JSON text: the conditions of an override or underride rule; NULL for the others.
    conditions: Mapped[str | None] = mapped_column(Text)
    # A content rule's glob pattern; NULL for the others.
    pattern: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)  # JSON text
    enabled: Mapped[bool] = mapped_column(Boolean)


class PushRuleSetting(Base):
    """A user's change to a server-default rule: enabled or actions (NULL: the default)."""

    __tablename__ = "push_rule_settings"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    actions: Mapped[str | None] = mapped_column(Text)


class Pusher(Base):
    """An HTTP pusher: where a user's notifications go (a push gateway and a device token)."""

    __tablename__ = "pushers"
    __table_args__ = (
        # One pusher per (app, pushkey) per user; `append: false` removes other users'.
        UniqueConstraint("user_id", "app_id", "pushkey", name="uq_pushers_user_app_key"),
        Index("ix_pushers_app_key", "app_id", "pushkey"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(String(255))
    # The device that set it: logging that device out removes its pushers.
    device_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    app_id: Mapped[str] = mapped_column(String(64))
    pushkey: Mapped[str] = mapped_column(String(512))
    app_display_name: Mapped[str] = mapped_column(Text)
    device_display_name: Mapped[str] = mapped_column(Text)
    profile_tag: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)  # JSON text, `url` included
    ts: Mapped[int] = mapped_column(BigInteger)  # when the pushkey was last set, ms


class NotificationEvent(Base):
    """An event that notifies, by the server-default rules, every member not singled out."""

    __tablename__ = "notification_events"
    __table_args__ = (
        Index("ix_notification_events_room_pos", "room_id", "stream_pos"),
        # Counting one thread (or the main timeline) after its own read position.
        Index("ix_notification_events_room_thread_pos", "room_id", "thread_id", "stream_pos"),
        # A user's own latest message in a thread counts as read up to there (the spec's
        # "Receiving notifications": a read receipt is updated "by using the API or sending
        # an event").
        Index(
            "ix_notification_events_room_sender_thread",
            "room_id",
            "sender",
            "thread_id",
            "stream_pos",
        ),
    )

    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    room_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    highlight: Mapped[bool] = mapped_column(Boolean)
    actions: Mapped[str] = mapped_column(Text)  # JSON text
    # The thread's root event id ('' for the main timeline), as the receipts table keeps it:
    # per-thread unread counts and threaded read receipts (spec "Threaded read receipts").
    thread_id: Mapped[str] = mapped_column(String(255), server_default="", default="")


class Notification(Base):
    """One user's outcome for an event where it differs from the event's baseline (or the
    event has none): a mention, a muted room, an invite to a room they are not in."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_user_room_thread_pos", "user_id", "room_id", "thread_id", "stream_pos"
        ),
        # A window of the stream for every user at once (`sync/unread.py`).
        Index("ix_notifications_pos", "stream_pos"),
    )

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    room_id: Mapped[str] = mapped_column(String(255))
    notify: Mapped[bool] = mapped_column(Boolean)
    highlight: Mapped[bool] = mapped_column(Boolean)
    actions: Mapped[str] = mapped_column(Text)  # JSON text
    thread_id: Mapped[str] = mapped_column(String(255), server_default="", default="")


class PushMembership(Base):
    """A stretch of a user's joined membership of a room: from the join event (exclusive)
    to the event that ended it (exclusive; NULL while joined)."""

    __tablename__ = "push_memberships"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    joined_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    left_pos: Mapped[int | None] = mapped_column(BigInteger)


class PushDelivery(Base):
    """A notification still to be posted to one pusher's gateway; deleted once answered.

    Written in the event's own transaction, so an acknowledged message's pushes survive a
    crash; the worker leases a row by moving `next_attempt_ts` forward while it posts.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (Index("ix_push_deliveries_due", "next_attempt_ts"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    pusher_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    stream_pos: Mapped[int] = mapped_column(BigInteger)
    highlight: Mapped[bool] = mapped_column(Boolean)
    actions: Mapped[str] = mapped_column(Text)  # JSON text: the tweaks come from here
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_ts: Mapped[int] = mapped_column(BigInteger)
    created_ts: Mapped[int] = mapped_column(BigInteger)
