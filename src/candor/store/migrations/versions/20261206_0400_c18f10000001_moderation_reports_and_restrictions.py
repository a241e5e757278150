"""moderation: the report queue and locked or suspended accounts

Revision ID: c18f10000001
Revises: b7d2e4f6a8c1
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18f10000001"
down_revision: str | None = "b7d2e4f6a8c1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_reports",
        sa.Column("report_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.String(length=255), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=True),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("target_user_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_ts", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_by", sa.String(length=255), nullable=True),
        sa.Column("closed_ts", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_moderation_reports")),
    )
    with op.batch_alter_table("moderation_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_moderation_reports_reporter_id"), ["reporter_id"], unique=False
        )
        batch_op.create_index("ix_moderation_reports_status", ["status", "report_id"], unique=False)
    op.create_table(
        "account_restrictions",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_restrictions")),
    )


def downgrade() -> None:
    op.drop_table("account_restrictions")
    with op.batch_alter_table("moderation_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_reports_status")
        batch_op.drop_index(batch_op.f("ix_moderation_reports_reporter_id"))
    op.drop_table("moderation_reports")
