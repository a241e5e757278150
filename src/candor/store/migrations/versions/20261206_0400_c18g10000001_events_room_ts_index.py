"""events: an index on (room_id, origin_server_ts, stream_pos)

`GET /rooms/{roomId}/timestamp_to_event` asks for the event of a room closest to a time,
in either direction. Timestamps are not stream positions (a clock can step back), so
without this index the answer walked the room's whole history; with it the answer is one
index range whatever the room's length (`sync/repository.py`, `list_events_by_timestamp`).

Revision ID: c18g10000001
Revises: c18e10000001
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c18g10000001"
down_revision: str | None = "c18e10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_room_ts", "events", ["room_id", "origin_server_ts", "stream_pos"])


def downgrade() -> None:
    op.drop_index("ix_events_room_ts", table_name="events")
