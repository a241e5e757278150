"""agreement contribution bound (issue 13 item 12)

Differential-privacy reports now protect one person per period, not one action: the
agreement says how many cards and clicks of each person a period counts (C). Existing
agreements get the documented default, 10, through the server default.

Revision ID: b5d2e8f4a1c3
Revises: b83d5e2a9c41
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b5d2e8f4a1c3"
down_revision: str | None = "b83d5e2a9c41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partner_agreements") as batch:
        batch.add_column(
            sa.Column("contribution_bound", sa.Integer(), server_default="10", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_agreements") as batch:
        batch.drop_column("contribution_bound")
