"""notification_events, notifications: the thread each notification is in

Per-thread unread counts (`unread_thread_notifications` in /sync) and threaded read
receipts need to know which thread a notification belongs to: a receipt with a
`thread_id` reads that thread only, an unthreaded one reads everything. The column holds
the thread's root event id, '' for the main timeline (as `receipts.thread_id` does for
the unthreaded receipt). Existing rows are given their thread from the relations index,
so counts stay right across the upgrade. The per-room indexes gain the thread so each
thread is counted after its own read position by one index range.

Revision ID: c18h10000001
Revises: c18b10000001
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18h10000001"
down_revision: str | None = "c18b10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FROM_RELATIONS = """
UPDATE {table} SET thread_id = (
  SELECT r.relates_to FROM event_relations r
  WHERE r.stream_pos = {table}.stream_pos AND r.rel_type = 'm.thread'
)
WHERE EXISTS (
  SELECT 1 FROM event_relations r
  WHERE r.stream_pos = {table}.stream_pos AND r.rel_type = 'm.thread'
)
"""


def upgrade() -> None:
    for table in ("notification_events", "notifications"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("thread_id", sa.String(255), nullable=False, server_default="")
            )
        op.execute(_FROM_RELATIONS.format(table=table))
    op.drop_index("ix_notification_events_room_sender", table_name="notification_events")
    op.create_index(
        "ix_notification_events_room_sender_thread",
        "notification_events",
        ["room_id", "sender", "thread_id", "stream_pos"],
    )
    op.create_index(
        "ix_notification_events_room_thread_pos",
        "notification_events",
        ["room_id", "thread_id", "stream_pos"],
    )
    op.drop_index("ix_notifications_user_room_pos", table_name="notifications")
    op.create_index(
        "ix_notifications_user_room_thread_pos",
        "notifications",
        ["user_id", "room_id", "thread_id", "stream_pos"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_user_room_thread_pos", table_name="notifications")
    op.create_index(
        "ix_notifications_user_room_pos", "notifications", ["user_id", "room_id", "stream_pos"]
    )
    op.drop_index("ix_notification_events_room_thread_pos", table_name="notification_events")
    op.drop_index("ix_notification_events_room_sender_thread", table_name="notification_events")
    op.create_index(
        "ix_notification_events_room_sender",
        "notification_events",
        ["room_id", "sender", "stream_pos"],
    )
    for table in ("notification_events", "notifications"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("thread_id")
