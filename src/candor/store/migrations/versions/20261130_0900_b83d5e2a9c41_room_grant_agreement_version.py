"""room grants record the agreement version they were given under

Existing grants are taken as given under their app's current agreement version, so the
upgrade itself ends none; from now on publishing a new version voids them.

Revision ID: b83d5e2a9c41
Revises: 7c1390f98ef2
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b83d5e2a9c41"
down_revision: str | None = "7c1390f98ef2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("room_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_version", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE room_grants SET agreement_version = COALESCE(("
        "SELECT partner_apps.agreement_version FROM partner_apps "
        "WHERE partner_apps.client_id = room_grants.client_id), 1)"
    )
    with op.batch_alter_table("room_grants", schema=None) as batch_op:
        batch_op.alter_column("agreement_version", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("room_grants", schema=None) as batch_op:
        batch_op.drop_column("agreement_version")
