"""The transparency log's storage: entries, hash tiles, the tree size and checkpoints.

The tree itself lives in C2SP tiles (`tlog_tiles`: up to 256 hashes of one level per
row), so an append rewrites only the rightmost tile of each level and a proof reads a
few rows. `tlog_entries` keeps each leaf's bytes (for entry bundles and audits) and its
leaf hash, unique, so a proof can also be asked for by leaf hash.
"""

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class TlogEntry(Base):
    __tablename__ = "tlog_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)


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
    record_json: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)


class AccessRecordSubject(Base):
    """Whose data a record concerns: the index behind "who accessed my data"."""

    __tablename__ = "access_record_subjects"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
