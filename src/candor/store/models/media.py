"""The media repository's metadata: one row per media id, one per cached thumbnail.

The bytes live on disk, content-addressed by SHA-256 (`matrix/media/storage.py`); rows
name a file by its hash, so identical uploads share one file and a file is deleted only
when no row of either table names it any more.
"""

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Media(Base):
    """A media id; `sha256` is NULL while an id made by /create waits for its upload."""

    __tablename__ = "media"
    __table_args__ = (
        # Quota sums and purges read one user's rows.
        Index("ix_media_user_id", "user_id"),
        # "Does any row still name this file?" before a file is deleted.
        Index("ix_media_sha256", "sha256"),
    )

    media_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    # Set for ids from /create until their upload; past it, an empty id is gone.
    expires_ts: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(255))
    filename: Mapped[str | None] = mapped_column(String(1024))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    uploaded_ts: Mapped[int | None] = mapped_column(BigInteger)


class MediaThumbnail(Base):
    """A thumbnail made once and served again; its file may be the original's."""

    __tablename__ = "media_thumbnails"
    __table_args__ = (Index("ix_media_thumbnails_sha256", "sha256"),)

    media_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("media.media_id", ondelete="CASCADE"), primary_key=True
    )
    width: Mapped[int] = mapped_column(primary_key=True)
    height: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(8), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
