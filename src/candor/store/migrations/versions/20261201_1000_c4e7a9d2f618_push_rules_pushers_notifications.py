"""push rules, pushers, notifications and push deliveries (issue 15 item 6)

Backfills `push_memberships` with every membership that is joined now, from the position
of its latest membership event: counts then start there, as unread counts did before (no
notification is recorded for an event older than this revision anyway).

Revision ID: c4e7a9d2f618
Revises: e7a4c2d9b1f3
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e7a9d2f618"
down_revision: str | None = "e7a4c2d9b1f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_rules",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", "rule_id", name=op.f("pk_push_rules")),
    )
    op.create_table(
        "push_rule_settings",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("rule_id", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("actions", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "rule_id", name=op.f("pk_push_rule_settings")),
    )
    op.create_table(
        "pushers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("pushkey", sa.String(length=512), nullable=False),
        sa.Column("app_display_name", sa.Text(), nullable=False),
        sa.Column("device_display_name", sa.Text(), nullable=False),
        sa.Column("profile_tag", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushers")),
        sa.UniqueConstraint("user_id", "app_id", "pushkey", name="uq_pushers_user_app_key"),
    )
    op.create_index("ix_pushers_app_key", "pushers", ["app_id", "pushkey"])
    op.create_table(
        "notification_events",
        sa.Column("stream_pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("highlight", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("stream_pos", name=op.f("pk_notification_events")),
    )
    op.create_index(
        "ix_notification_events_room_pos", "notification_events", ["room_id", "stream_pos"]
    )
    op.create_index(
        "ix_notification_events_room_sender",
        "notification_events",
        ["room_id", "sender", "stream_pos"],
    )
    op.create_table(
        "notifications",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("stream_pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("highlight", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "stream_pos", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_user_room_pos", "notifications", ["user_id", "room_id", "stream_pos"]
    )
    op.create_table(
        "push_memberships",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("joined_pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("left_pos", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "user_id", "room_id", "joined_pos", name=op.f("pk_push_memberships")
        ),
    )
    op.create_table(
        "push_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("pusher_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("stream_pos", sa.BigInteger(), nullable=False),
        sa.Column("highlight", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_ts", sa.BigInteger(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_deliveries")),
    )
    op.create_index("ix_push_deliveries_due", "push_deliveries", ["next_attempt_ts"])
    op.create_index(
        op.f("ix_push_deliveries_pusher_id"), "push_deliveries", ["pusher_id"], unique=False
    )
    op.execute(
        "INSERT INTO push_memberships (user_id, room_id, joined_pos, left_pos) "
        "SELECT user_id, room_id, stream_pos, NULL FROM room_memberships "
        "WHERE membership = 'join'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_deliveries_pusher_id"), table_name="push_deliveries")
    op.drop_index("ix_push_deliveries_due", table_name="push_deliveries")
    op.drop_table("push_deliveries")
    op.drop_table("push_memberships")
    op.drop_index("ix_notifications_user_room_pos", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_notification_events_room_sender", table_name="notification_events")
    op.drop_index("ix_notification_events_room_pos", table_name="notification_events")
    op.drop_table("notification_events")
    op.drop_index("ix_pushers_app_key", table_name="pushers")
    op.drop_table("pushers")
    op.drop_table("push_rule_settings")
    op.drop_table("push_rules")
