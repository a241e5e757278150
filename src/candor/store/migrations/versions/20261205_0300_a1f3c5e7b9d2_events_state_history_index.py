"""events: one index for a state key's history in stream order (room, type, state_key, pos)

The history-visibility check of every `/messages` page and `/event` read asks for every
version of two state keys (the reader's membership and `m.room.history_visibility`) in
stream order. With `(room_id, type, state_key)` alone, SQLite chose `(room_id, stream_pos)`
to avoid the sort and walked the room's whole history, so a page cost more as the room
grew; with the position as the fourth column both the filter and the order come from one
index range. The old three-column index is its prefix, so it goes.

Revision ID: a1f3c5e7b9d2
Revises: c4e7a9d2f618
Create Date: 2026-12-05 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a1f3c5e7b9d2"
down_revision: str | None = "c4e7a9d2f618"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_events_room_state_pos", "events", ["room_id", "type", "state_key", "stream_pos"]
    )
    op.drop_index("ix_events_room_state", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_room_state", "events", ["room_id", "type", "state_key"])
    op.drop_index("ix_events_room_state_pos", table_name="events")
