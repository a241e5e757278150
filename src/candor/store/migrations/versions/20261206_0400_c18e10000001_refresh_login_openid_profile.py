"""refresh tokens, login and OpenID tokens, extended profile fields

Access tokens issued with a refresh token expire (`expires_ts`) and retire the refresh
token they replaced on first use (`retires`); `refresh_tokens` holds the rotation chain;
`short_lived_tokens` the single-use login tokens and OpenID tokens; `profile_fields` the
spec v1.16 profile keys other than displayname and avatar_url.

Revision ID: c18e10000001
Revises: c18a10000001
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18e10000001"
down_revision: str | None = "c18a10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_tokens") as batch:
        batch.add_column(sa.Column("expires_ts", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("retires", sa.String(length=64), nullable=True))
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("replaces", sa.String(length=64), nullable=True),
        sa.Column("next_hash", sa.String(length=64), nullable=True),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_refresh_tokens_user_device", "refresh_tokens", ["user_id", "device_id"])
    op.create_table(
        "short_lived_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("expires_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_short_lived_tokens_user", "short_lived_tokens", ["user_id"])
    op.create_table(
        "profile_fields",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("profile_fields")
    op.drop_index("ix_short_lived_tokens_user", table_name="short_lived_tokens")
    op.drop_table("short_lived_tokens")
    op.drop_index("ix_refresh_tokens_user_device", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    with op.batch_alter_table("access_tokens") as batch:
        batch.drop_column("retires")
        batch.drop_column("expires_ts")
