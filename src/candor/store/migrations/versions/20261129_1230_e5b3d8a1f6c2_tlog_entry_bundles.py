"""transparency log entries as C2SP entry bundles; access records index their leaf hash

Revision ID: e5b3d8a1f6c2
Revises: c4a1e2b9d7f0
Create Date: 2026-11-29 12:30:00

One row per entry (leaf, leaf hash, a unique index on the hash) cost about 150 bytes
and a random B-tree insert per leaf, which capped appends. Entries now live 256 to a
row as C2SP entry bundles and their hashes only in the level-0 tiles. Finding an entry
by leaf hash moves to `access_records.leaf_hash`: every entry Candor writes is an access
record. Existing entries are moved over in pages.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b3d8a1f6c2"
down_revision: str | None = "c4a1e2b9d7f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 256 * 64

_entries = sa.table(
    "tlog_entries",
    sa.column("index", sa.BigInteger()),
    sa.column("leaf", sa.LargeBinary()),
    sa.column("leaf_hash", sa.LargeBinary()),
)
_bundles = sa.table(
    "tlog_bundles", sa.column("index", sa.BigInteger()), sa.column("entries", sa.LargeBinary())
)
_tiles = sa.table(
    "tlog_tiles",
    sa.column("level", sa.Integer()),
    sa.column("index", sa.BigInteger()),
    sa.column("hashes", sa.LargeBinary()),
)
_records = sa.table(
    "access_records", sa.column("index", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary())
)


def upgrade() -> None:
    op.create_table(
        "tlog_bundles",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_tlog_bundles")),
    )
    with op.batch_alter_table("access_records") as batch:
        batch.add_column(sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=True))
    bind = op.get_bind()
    start = 0
    while True:
        rows = bind.execute(
            sa.select(_entries.c.index, _entries.c.leaf, _entries.c.leaf_hash)
            .where(_entries.c.index >= start, _entries.c.index < start + _PAGE)
            .order_by(_entries.c.index)
        ).all()
        if not rows:
            break
        bundles: dict[int, bytearray] = {}
        for index, leaf, _ in rows:
            buf = bundles.setdefault(index // 256, bytearray())
            buf += len(leaf).to_bytes(2, "big") + bytes(leaf)
        bind.execute(
            sa.insert(_bundles), [{"index": i, "entries": bytes(b)} for i, b in bundles.items()]
        )
        for index, _, leaf_hash in rows:
            bind.execute(
                sa.update(_records).where(_records.c.index == index).values(leaf_hash=leaf_hash)
            )
        start += _PAGE
    with op.batch_alter_table("access_records") as batch:
        batch.alter_column("leaf_hash", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch.create_unique_constraint(op.f("uq_access_records_leaf_hash"), ["leaf_hash"])
    op.drop_table("tlog_entries")


def downgrade() -> None:
    op.create_table(
        "tlog_entries",
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_tlog_entries")),
        sa.UniqueConstraint("leaf_hash", name=op.f("uq_tlog_entries_leaf_hash")),
    )
    bind = op.get_bind()
    for bundle_index, blob in bind.execute(
        sa.select(_bundles.c.index, _bundles.c.entries).order_by(_bundles.c.index)
    ).all():
        hashes = bind.execute(
            sa.select(_tiles.c.hashes).where(_tiles.c.level == 0, _tiles.c.index == bundle_index)
        ).scalar_one()
        rows: list[dict[str, object]] = []
        i = 0
        blob = bytes(blob)
        while i < len(blob):
            n = int.from_bytes(blob[i : i + 2], "big")
            k = len(rows)
            rows.append(
                {
                    "index": bundle_index * 256 + k,
                    "leaf": blob[i + 2 : i + 2 + n],
                    "leaf_hash": bytes(hashes[k * 32 : (k + 1) * 32]),
                }
            )
            i += 2 + n
        bind.execute(sa.insert(_entries), rows)
    with op.batch_alter_table("access_records") as batch:
        batch.drop_constraint(op.f("uq_access_records_leaf_hash"), type_="unique")
        batch.drop_column("leaf_hash")
    op.drop_table("tlog_bundles")
