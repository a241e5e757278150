"""presence: each person's presence state, status message and last activity

Revision ID: c18c10000001
Revises: c18f10000001
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18c10000001"
down_revision: str | None = "c18f10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presence",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_msg", sa.Text(), nullable=True),
        sa.Column("last_active_ts", sa.BigInteger(), nullable=False),
        sa.Column("stream_pos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_presence")),
    )
    op.create_index("ix_presence_pos", "presence", ["stream_pos"])


def downgrade() -> None:
    op.drop_index("ix_presence_pos", table_name="presence")
    op.drop_table("presence")
