"""notifications: an index on the stream position alone

A woken /sync carries each listener's unread counts forward over the window it was woken
for, reading the window's notification rows once for every listener
(`sync/unread.py`). The exception rows are keyed by (user, position) and
(user, room, position), so a range of positions for all users walked the whole table.

Revision ID: b7d2e4f6a8c1
Revises: a1f3c5e7b9d2
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b7d2e4f6a8c1"
down_revision: str | None = "a1f3c5e7b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_notifications_pos", "notifications", ["stream_pos"])


def downgrade() -> None:
    op.drop_index("ix_notifications_pos", table_name="notifications")
