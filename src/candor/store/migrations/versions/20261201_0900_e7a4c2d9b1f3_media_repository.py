"""media repository (issue 15 item 4)

Media ids and their metadata, and the thumbnails made of them; the files themselves live
under DATA_DIR/media/, named by their SHA-256.

Revision ID: e7a4c2d9b1f3
Revises: c7e4a9d2f1b6
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a4c2d9b1f3"
down_revision: str | None = "c7e4a9d2f1b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("media_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("expires_ts", sa.BigInteger(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("filename", sa.String(length=1024), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("uploaded_ts", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index("ix_media_sha256", ["sha256"], unique=False)
        batch_op.create_index("ix_media_user_id", ["user_id"], unique=False)

    op.create_table(
        "media_thumbnails",
        sa.Column("media_id", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.media_id"],
            name=op.f("fk_media_thumbnails_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "media_id", "width", "height", "method", name=op.f("pk_media_thumbnails")
        ),
    )
    with op.batch_alter_table("media_thumbnails", schema=None) as batch_op:
        batch_op.create_index("ix_media_thumbnails_sha256", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_thumbnails", schema=None) as batch_op:
        batch_op.drop_index("ix_media_thumbnails_sha256")
    op.drop_table("media_thumbnails")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_user_id")
        batch_op.drop_index("ix_media_sha256")
    op.drop_table("media")
