"""event_relations and event_threads: the relations index and the thread list

One row per event with `m.relates_to` (rel_type and event_id), written with the event
and removed when it is redacted; one row per thread root with its latest reply and count.

Revision ID: c18a10000001
Revises: c18c10000001
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18a10000001"
down_revision: str | None = "c18c10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_relations",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("relates_to", sa.String(length=255), nullable=False),
        sa.Column("rel_type", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("stream_pos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_event_relations_parent_pos", "event_relations", ["relates_to", "stream_pos"]
    )
    op.create_index(
        "ix_event_relations_parent_rel_pos",
        "event_relations",
        ["relates_to", "rel_type", "stream_pos"],
    )
    op.create_index(
        "ix_event_relations_parent_rel_type_pos",
        "event_relations",
        ["relates_to", "rel_type", "type", "stream_pos"],
    )
    op.create_table(
        "event_threads",
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("root_event_id", sa.String(length=255), nullable=False),
        sa.Column("latest_event_id", sa.String(length=255), nullable=False),
        sa.Column("latest_pos", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "root_event_id"),
    )
    op.create_index("ix_event_threads_room_latest", "event_threads", ["room_id", "latest_pos"])


def downgrade() -> None:
    op.drop_index("ix_event_threads_room_latest", table_name="event_threads")
    op.drop_table("event_threads")
    op.drop_index("ix_event_relations_parent_rel_type_pos", table_name="event_relations")
    op.drop_index("ix_event_relations_parent_rel_pos", table_name="event_relations")
    op.drop_index("ix_event_relations_parent_pos", table_name="event_relations")
    op.drop_table("event_relations")
