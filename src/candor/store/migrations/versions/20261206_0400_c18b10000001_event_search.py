"""event_search: the full-text index of messages, room names and topics

Each engine's own full-text index over `event_search.value`: SQLite's FTS5 (an
external-content table, kept in step by triggers, so every writer of `event_search`,
the persister's observer or a bulk load, keeps it right) and PostgreSQL's tsvector (a
generated column, so no writer computes it, with a GIN index). Both stem English words
(FTS5's porter tokenizer, the `english` text search configuration).

Existing history is indexed here, as the observer would have indexed it: the key of each
type when it is a non-empty string, not redacted, and sent before its room had
m.room.encryption (`matrix/search/indexer.py`).

Revision ID: c18b10000001
Revises: c18g10000001
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c18b10000001"
down_revision: str | None = "c18g10000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    "CREATE VIRTUAL TABLE event_search_fts USING fts5(value, content='event_search', "
    "content_rowid='stream_pos', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER event_search_ai AFTER INSERT ON event_search BEGIN "
    "INSERT INTO event_search_fts(rowid, value) VALUES (new.stream_pos, new.value); END",
    "CREATE TRIGGER event_search_ad AFTER DELETE ON event_search BEGIN "
    "INSERT INTO event_search_fts(event_search_fts, rowid, value) "
    "VALUES ('delete', old.stream_pos, old.value); END",
    "CREATE TRIGGER event_search_au AFTER UPDATE ON event_search BEGIN "
    "INSERT INTO event_search_fts(event_search_fts, rowid, value) "
    "VALUES ('delete', old.stream_pos, old.value); "
    "INSERT INTO event_search_fts(rowid, value) VALUES (new.stream_pos, new.value); END",
]
_POSTGRES = [
    "ALTER TABLE event_search ADD COLUMN tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', value)) STORED",
    # Each search reads the GIN index's whole pending list (rows not yet merged): the
    # default 4 MB made a rare word's search cost ~20 ms; 256 kB bounds it, and inserts
    # are still batched into the index.
    "CREATE INDEX ix_event_search_tsv ON event_search USING gin (tsv)"
    " WITH (gin_pending_list_limit = 256)",
]


_KEYS = (("m.room.message", "body"), ("m.room.name", "name"), ("m.room.topic", "topic"))
_BACKFILL = """
INSERT INTO event_search (stream_pos, room_id, sender, type, key, value)
SELECT e.stream_pos, e.room_id, e.sender, e.type, 'content.{key}', substr({value}, 1, 65536)
FROM events e
WHERE e.type = '{type}' AND e.redacted_by IS NULL AND {is_text}
  AND ({state})
  AND NOT EXISTS (
    SELECT 1 FROM events x WHERE x.room_id = e.room_id AND x.type = 'm.room.encryption'
      AND x.state_key = '' AND x.stream_pos < e.stream_pos)
"""


def _backfill(sqlite: bool) -> None:
    for event_type, key in _KEYS:
        if sqlite:
            value = f"json_extract(e.content, '$.{key}')"
            is_text = f"json_type(e.content, '$.{key}') = 'text'"
        else:
            value = f"(CAST(e.content AS jsonb) ->> '{key}')"
            is_text = f"jsonb_typeof(CAST(e.content AS jsonb) -> '{key}') = 'string'"
        state = "e.state_key IS NULL" if key == "body" else "e.state_key = ''"
        op.execute(
            _BACKFILL.format(key=key, value=value, type=event_type, is_text=is_text, state=state)
            + f" AND trim({value}) <> ''"
        )


def upgrade() -> None:
    op.create_table(
        "event_search",
        sa.Column("stream_pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("stream_pos", name=op.f("pk_event_search")),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE if sqlite else _POSTGRES:
        op.execute(statement)
    _backfill(sqlite)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("event_search_ai", "event_search_ad", "event_search_au"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE event_search_fts")
    op.drop_table("event_search")
