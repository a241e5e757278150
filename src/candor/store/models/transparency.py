"""The transparency log's storage: entry bundles, hash tiles, the size and checkpoints.

Everything is stored in C2SP tlog-tiles form, 256 to a row: `tlog_bundles` holds the
entries themselves (entry bundles) and `tlog_tiles` the tree (up to 256 hashes of one
level per row, leaf hashes at level 0). An append rewrites only the rightmost row of
each, a proof reads a few rows, and a leaf costs about 70 bytes. Like the C2SP static
logs, the log keeps no map from leaf hash to index (at scale, its random inserts cost
more than the rest of an append); `access_records` indexes the leaf hash of each record,
and every entry Candor writes is one.
"""

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class TlogBundle(Base):
    """Entry bundle `index`: entries 256·index … as uint16 length + bytes, 1..256 of them."""

    __tablename__ = "tlog_bundles"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entries: Mapped[bytes] = mapped_column(LargeBinary)


class TlogTile(Base):
    """Tile `index` of tile level `level`: concatenated 32-byte hashes, 1..256 of them."""

    __tablename__ = "tlog_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class TlogSize(Base):
    """One row: the number of leaves committed (the sequencer advances it)."""

    __tablename__ = "tlog_size"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class TlogCheckpoint(Base):
    """A signed checkpoint as published (the C2SP signed note, byte for byte)."""

    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class AccessRecordRow(Base):
    """The full record behind a log entry, readable by the people it concerns."""

    __tablename__ = "access_records"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The entry's leaf hash: finds a record (and its index) from a public log entry.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    record_json: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class AccessRecordSubject(Base):
    """Whose data a record concerns: the index behind "who accessed my data"."""

    __tablename__ = "access_record_subjects"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
