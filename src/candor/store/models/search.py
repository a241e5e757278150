"""The full-text search index of room events (`matrix/search/`).

One row per searchable event: the text of the one key its type carries (`content.body` of
m.room.message, `content.name` of m.room.name, `content.topic` of m.room.topic) with the
room, sender and type a search filters on, keyed by the event's stream position. The
engine's own index over `value` is made by the migration only, because no model can
declare it: on SQLite an FTS5 table (`event_search_fts`, external content, kept by
triggers), on PostgreSQL a generated `tsv` tsvector column with a GIN index.
`outside_models` names those objects, so comparing the models with a migrated database
(Alembic autogenerate, `tests/store/test_migrations.py`) leaves them alone.
"""

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base

FTS_TABLE = "event_search_fts"
TSV_COLUMN = "tsv"
TSV_INDEX = "ix_event_search_tsv"


class EventSearch(Base):
    __tablename__ = "event_search"

    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    room_id: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    # "content.body", "content.name" or "content.topic" (the spec's `keys`).
    key: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)


def outside_models(name: str | None, type_: str, table_name: str | None) -> bool:
    """Whether a reflected object is the search index's engine-specific part (FTS5's table
    and its shadow tables, PostgreSQL's tsvector column and GIN index)."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    if type_ == "column":
        return name == TSV_COLUMN and table_name == "event_search"
    return type_ == "index" and name == TSV_INDEX
