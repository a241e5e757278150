"""SQL for media ids and thumbnails; no rule lives here.

A file on disk is named by `sha256` in rows of both tables; `referenced` is how the
service learns that a file has no row left.
"""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import insert_on_conflict
from candor.store.models.media import Media, MediaThumbnail

# Keeps `IN (...)` well under SQLite's bound-parameter limit.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class MediaRecord:
    media_id: str
    user_id: str
    created_ts: int
    expires_ts: int | None
    content_type: str | None
    filename: str | None
    size: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class ThumbnailRecord:
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Removed:
    media: int
    bytes: int
    hashes: frozenset[str]


_MEDIA_COLUMNS = (
    Media.media_id,
    Media.user_id,
    Media.created_ts,
    Media.expires_ts,
    Media.content_type,
    Media.filename,
    Media.size,
    Media.sha256,
)


async def get_media(conn: AsyncConnection, media_id: str) -> MediaRecord | None:
    row = (
        await conn.execute(select(*_MEDIA_COLUMNS).where(Media.media_id == media_id))
    ).one_or_none()
    return None if row is None else MediaRecord(*row)


async def add_pending(
    conn: AsyncConnection, media_id: str, user_id: str, now_ms: int, expires_ts: int
) -> None:
    await conn.execute(
        insert(Media).values(
            media_id=media_id, user_id=user_id, created_ts=now_ms, expires_ts=expires_ts
        )
    )


async def add_uploaded(
    conn: AsyncConnection,
    *,
    media_id: str,
    user_id: str,
    now_ms: int,
    content_type: str,
    filename: str | None,
    size: int,
    sha256: str,
) -> None:
    await conn.execute(
        insert(Media).values(
            media_id=media_id,
            user_id=user_id,
            created_ts=now_ms,
            content_type=content_type,
            filename=filename,
            size=size,
            sha256=sha256,
            uploaded_ts=now_ms,
        )
    )


async def set_content(
    conn: AsyncConnection,
    *,
    media_id: str,
    now_ms: int,
    content_type: str,
    filename: str | None,
    size: int,
    sha256: str,
) -> bool:
    """Fill a created id; False if it has content already (`sha256 IS NULL` in the WHERE
    makes the first of two racing uploads the only one)."""
    result = await conn.execute(
        update(Media)
        .where(Media.media_id == media_id, Media.sha256.is_(None))
        .values(
            content_type=content_type,
            filename=filename,
            size=size,
            sha256=sha256,
            uploaded_ts=now_ms,
            expires_ts=None,
        )
    )
    return result.rowcount == 1


async def used_bytes(conn: AsyncConnection, user_id: str) -> int:
    total = await conn.scalar(
        select(func.coalesce(func.sum(Media.size), 0)).where(Media.user_id == user_id)
    )
    return int(total or 0)


async def list_pending_expiries(conn: AsyncConnection, user_id: str, now_ms: int) -> list[int]:
    """When each of the user's live created-but-empty ids expires, soonest first."""
    rows = await conn.scalars(
        select(Media.expires_ts)
        .where(
            Media.user_id == user_id,
            Media.sha256.is_(None),
            Media.expires_ts > now_ms,
        )
        .order_by(Media.expires_ts)
    )
    return [int(ts) for ts in rows if ts is not None]


async def delete_expired_pending(conn: AsyncConnection, user_id: str, now_ms: int) -> None:
    await conn.execute(
        delete(Media).where(
            Media.user_id == user_id, Media.sha256.is_(None), Media.expires_ts <= now_ms
        )
    )


async def get_thumbnail(
    conn: AsyncConnection, media_id: str, width: int, height: int, method: str
) -> ThumbnailRecord | None:
    row = (
        await conn.execute(
            select(MediaThumbnail.content_type, MediaThumbnail.size, MediaThumbnail.sha256).where(
                MediaThumbnail.media_id == media_id,
                MediaThumbnail.width == width,
                MediaThumbnail.height == height,
                MediaThumbnail.method == method,
            )
        )
    ).one_or_none()
    return None if row is None else ThumbnailRecord(*row)


async def add_thumbnail(
    conn: AsyncConnection,
    *,
    media_id: str,
    width: int,
    height: int,
    method: str,
    record: ThumbnailRecord,
) -> None:
    """Insert once: a concurrent request that made the same thumbnail loses quietly (the
    primary key decides; both files have the same content anyway)."""
    await conn.execute(
        insert_on_conflict(conn.dialect.name)(MediaThumbnail)
        .values(
            media_id=media_id,
            width=width,
            height=height,
            method=method,
            content_type=record.content_type,
            size=record.size,
            sha256=record.sha256,
        )
        .on_conflict_do_nothing()
    )


async def delete_user_media(conn: AsyncConnection, user_id: str) -> Removed:
    """Delete every media id of `user_id` and its thumbnails; the hashes they named."""
    ids = list(await conn.scalars(select(Media.media_id).where(Media.user_id == user_id)))
    hashes: set[str] = set()
    count = 0
    size = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        thumbs = await conn.execute(
            delete(MediaThumbnail)
            .where(MediaThumbnail.media_id.in_(chunk))
            .returning(MediaThumbnail.sha256)
        )
        hashes.update(thumbs.scalars())
        rows = await conn.execute(
            delete(Media).where(Media.media_id.in_(chunk)).returning(Media.sha256, Media.size)
        )
        for sha, n in rows:
            count += 1
            if sha is not None:
                hashes.add(sha)
                size += n or 0
    return Removed(media=count, bytes=size, hashes=frozenset(hashes))


async def referenced(conn: AsyncConnection, hashes: Collection[str]) -> set[str]:
    """Those of `hashes` that some media or thumbnail row still names."""
    wanted = list(hashes)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(await conn.scalars(select(Media.sha256).where(Media.sha256.in_(chunk))))
        found.update(
            await conn.scalars(
                select(MediaThumbnail.sha256).where(MediaThumbnail.sha256.in_(chunk))
            )
        )
    return found
