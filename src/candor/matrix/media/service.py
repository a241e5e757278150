"""The media repository: uploads (direct, or to an id made earlier by /create), downloads,
thumbnails and purges.

https://spec.matrix.org/v1.11/client-server-api/#content-repository
Invariants:
- A media id answers with content only once its file is complete on disk and its row is
  committed (storage.py's write order); an upload that fails changes nothing.
- Every file write that creates a reference (an upload, a thumbnail) and every file
  deletion run under one lock (SQLite's write lock; a PostgreSQL advisory lock), with
  the reference written in the same transaction: a purge can never delete a file that a
  concurrent upload of the same content has just been promised. The same lock makes the
  quota check and its insert one step.
- Only this server's media exist (no federation): another server name is not found.
- Any signed-in account may download any local media id it knows (the spec's rule);
  the deprecated unauthenticated paths are frozen unless the operator opens them.
"""

import asyncio
import logging
import os
import secrets
import string
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.config import MediaSettings
from candor.core.clock import Clock
from candor.core.ids import UserID, valid_server_name
from candor.matrix.errors import Forbidden, InvalidParam, LimitExceeded, NotFound
from candor.matrix.media import repository as repo
from candor.matrix.media.errors import (
    CannotOverwriteMedia,
    CannotThumbnail,
    NotYetUploaded,
    TooLarge,
)
from candor.matrix.media.repository import MediaRecord, ThumbnailRecord
from candor.matrix.media.rules import (
    DEFAULT_CONTENT_TYPE,
    THUMBNAIL_SOURCES,
    Box,
    ThumbnailMethod,
    essence,
    mxc_uri,
    normalise_content_type,
    select_box,
    valid_filename,
    valid_media_id,
    wait_ms,
)
from candor.matrix.media.storage import FileTooLarge, MediaStore
from candor.matrix.media.thumbnails import ImageTooLarge, NotAnImage, make_thumbnail
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.store.db import Database

logger = logging.getLogger(__name__)

_ADVISORY_KEY = 0x4D454449  # "MEDI"
_MEDIA_ID_ALPHABET = string.ascii_letters + string.digits
_MEDIA_ID_LENGTH = 24
# Thumbnails decoded at once: each can hold an image of `max_thumbnail_pixels` in memory.
_THUMBNAIL_SLOTS = 2
# How often a waiting download looks again when no upload woke it (a fallback: uploads
# through another worker wake it through the notifier's channel too).
_POLL_S = 1.0


@dataclass(frozen=True, slots=True)
class ServedFile:
    """What a download or thumbnail answers with: a complete file and its labels."""

    path: Path
    stat: os.stat_result
    content_type: str
    filename: str | None
    sha256: str


@dataclass(frozen=True, slots=True)
class Content:
    """A media id's uploaded file and its labels."""

    sha256: str
    content_type: str
    filename: str | None


@dataclass(frozen=True, slots=True)
class Created:
    content_uri: str
    unused_expires_at: int


@dataclass(frozen=True, slots=True)
class Purged:
    media: int
    bytes: int
    files: int


class MediaService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        store: MediaStore,
        ratelimiter: RateLimiter,
        *,
        server_name: str,
        settings: MediaSettings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._store = store
        self._ratelimiter = ratelimiter
        self._server_name = server_name
        self._settings = settings
        self._boxes = tuple(Box(s.width, s.height, s.method) for s in settings.thumbnail_sizes)
        self._thumbnail_slots = asyncio.Semaphore(_THUMBNAIL_SLOTS)
        # Replaced (and set) whenever an upload to a created id completes here.
        self._upload_done = asyncio.Event()
        # Told after such an upload, so other workers wake their waiting downloads too
        # (`matrix/sync/cluster.py`); the poll below stays as the fallback.
        self.on_uploaded: Callable[[], None] | None = None

    @property
    def max_upload_bytes(self) -> int:
        return self._settings.max_upload_bytes

    async def start(self) -> None:
        """Clear the temporary files interrupted uploads left behind (a crash, a kill)."""
        await asyncio.to_thread(self._store.sweep_temporary)

    # --- uploads -----------------------------------------------------------------------

    async def upload(
        self,
        requester: Requester,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        filename: str | None,
        content_length: int | None,
    ) -> str:
        """POST /_matrix/media/v3/upload: store the file under a new id; its mxc URI."""
        await self._ratelimiter.check(requester.user_id)
        ctype, name = self._check_upload(content_type, filename, content_length)
        await self._check_quota(requester.user_id, content_length or 0)
        media_id = _new_media_id()
        try:
            async with (
                self._store.stage(body, max_bytes=self.max_upload_bytes) as staged,
                self._db.write() as conn,
            ):
                await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
                await self._check_quota_on(conn, requester.user_id, staged.size)
                await staged.commit()
                await repo.add_uploaded(
                    conn,
                    media_id=media_id,
                    user_id=requester.user_id,
                    now_ms=self._clock.now_ms(),
                    content_type=ctype,
                    filename=name,
                    size=staged.size,
                    sha256=staged.sha256,
                )
        except FileTooLarge:
            raise self._too_large() from None
        return mxc_uri(self._server_name, media_id)

    async def create(self, requester: Requester) -> Created:
        """POST /_matrix/media/v1/create: an id whose content comes later, within
        `unused_expiry_ms`; at most `max_pending_uploads` waiting per account."""
        await self._ratelimiter.check(requester.user_id)
        now = self._clock.now_ms()
        expires = now + self._settings.unused_expiry_ms
        media_id = _new_media_id()
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
            await repo.delete_expired_pending(conn, requester.user_id, now)
            pending = await repo.list_pending_expiries(conn, requester.user_id, now)
            if len(pending) >= self._settings.max_pending_uploads:
                raise LimitExceeded(max(1, pending[0] - now))
            await repo.add_pending(conn, media_id, requester.user_id, now, expires)
        return Created(mxc_uri(self._server_name, media_id), expires)

    async def upload_to(
        self,
        requester: Requester,
        server_name: str,
        media_id: str,
        body: AsyncIterable[bytes],
        *,
        content_type: str | None,
        filename: str | None,
        content_length: int | None,
    ) -> None:
        """PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: the content of an id from
        /create, by its creator, once."""
        await self._ratelimiter.check(requester.user_id)
        self._check_local(server_name, media_id)
        async with self._db.read() as conn:
            record = await repo.get_media(conn, media_id)
        self._check_fillable(requester, record)
        ctype, name = self._check_upload(content_type, filename, content_length)
        await self._check_quota(requester.user_id, content_length or 0)
        try:
            async with (
                self._store.stage(body, max_bytes=self.max_upload_bytes) as staged,
                self._db.write() as conn,
            ):
                await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
                self._check_fillable(requester, await repo.get_media(conn, media_id))
                await self._check_quota_on(conn, requester.user_id, staged.size)
                await staged.commit()
                filled = await repo.set_content(
                    conn,
                    media_id=media_id,
                    now_ms=self._clock.now_ms(),
                    content_type=ctype,
                    filename=name,
                    size=staged.size,
                    sha256=staged.sha256,
                )
                if not filled:
                    raise CannotOverwriteMedia
        except FileTooLarge:
            raise self._too_large() from None
        self.wake_downloads()
        if self.on_uploaded is not None:
            self.on_uploaded()

    def wake_downloads(self) -> None:
        """Wake every download waiting for an upload: each reads its media id again."""
        done, self._upload_done = self._upload_done, asyncio.Event()
        done.set()

    # --- downloads ---------------------------------------------------------------------

    async def download(
        self,
        server_name: str,
        media_id: str,
        timeout_ms: int | None,
        *,
        filename: str | None = None,
    ) -> ServedFile:
        """The file of a local media id, waiting up to `timeout_ms` for a created id's
        upload (then 504 M_NOT_YET_UPLOADED); `filename` replaces the uploaded name."""
        if filename is not None and not valid_filename(filename):
            raise InvalidParam("The file name must be 1-255 characters, none of them control")
        content = await self._uploaded(server_name, media_id, timeout_ms)
        return self._served(content.sha256, content.content_type, filename or content.filename)

    async def download_unauthenticated(
        self,
        server_name: str,
        media_id: str,
        timeout_ms: int | None,
        *,
        filename: str | None = None,
    ) -> ServedFile:
        """The deprecated /_matrix/media/v3/download: frozen (404) unless opened."""
        self._check_legacy_open()
        return await self.download(server_name, media_id, timeout_ms, filename=filename)

    async def thumbnail(
        self,
        server_name: str,
        media_id: str,
        *,
        width: int,
        height: int,
        method: ThumbnailMethod,
        timeout_ms: int | None,
    ) -> ServedFile:
        """A thumbnail in the configured size that answers the request, made once and
        kept. Only images are thumbnailed: anything else (an encrypted attachment is
        application/octet-stream) gets 400 M_UNKNOWN, an image too big to decode 413."""
        if width < 1 or height < 1:
            raise InvalidParam("width and height must be positive integers")
        record = await self._uploaded(server_name, media_id, timeout_ms)
        if essence(record.content_type) not in THUMBNAIL_SOURCES:
            raise CannotThumbnail
        box = select_box(width, height, method, self._boxes)
        async with self._db.read() as conn:
            cached = await repo.get_thumbnail(conn, media_id, box.width, box.height, box.method)
        if cached is not None and self._store.stat(cached.sha256) is not None:
            return self._served(cached.sha256, cached.content_type, _thumbnail_name(cached))
        source = self._store.path(record.sha256)
        try:
            async with self._thumbnail_slots:
                made = await asyncio.to_thread(
                    make_thumbnail,
                    source,
                    record.content_type,
                    (width, height),
                    box,
                    self._settings.max_thumbnail_pixels,
                )
        except NotAnImage:
            raise CannotThumbnail from None
        except ImageTooLarge:
            raise TooLarge("Content is too large to thumbnail") from None
        except FileNotFoundError:
            raise NotFound("Media not found") from None
        if made is None:  # already small: the original is the answer
            return self._served(record.sha256, record.content_type, record.filename)
        async with self._store.stage_bytes(made.data) as staged:
            thumb = ThumbnailRecord(made.content_type, staged.size, staged.sha256)
            async with self._db.write() as conn:
                await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
                if await repo.get_media(conn, media_id) is None:
                    raise NotFound("Media not found")  # purged meanwhile
                await staged.commit()
                await repo.add_thumbnail(
                    conn,
                    media_id=media_id,
                    width=box.width,
                    height=box.height,
                    method=box.method,
                    record=thumb,
                )
        return self._served(thumb.sha256, thumb.content_type, _thumbnail_name(thumb))

    async def thumbnail_unauthenticated(
        self,
        server_name: str,
        media_id: str,
        *,
        width: int,
        height: int,
        method: ThumbnailMethod,
        timeout_ms: int | None,
    ) -> ServedFile:
        """The deprecated /_matrix/media/v3/thumbnail: frozen (404) unless opened."""
        self._check_legacy_open()
        return await self.thumbnail(
            server_name, media_id, width=width, height=height, method=method, timeout_ms=timeout_ms
        )

    # --- purge -------------------------------------------------------------------------

    async def purge_user(self, user_id: str) -> Purged:
        """Delete every media id an account uploaded or created, their thumbnails, and the
        files no other row still names (for a deleted account; `candor user purge-media`).

        Rows go first, in one transaction; then, under the files lock, each file no row
        names any more is deleted. A crash in between leaves unreferenced files, never a
        row without its file."""
        user = str(UserID.parse(user_id))
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
            removed = await repo.delete_user_media(conn, user)
        files = 0
        async with self._db.write() as conn:
            await self._db.advisory_xact_lock(conn, _ADVISORY_KEY)
            still_named = await repo.referenced(conn, removed.hashes)
            for sha in sorted(removed.hashes - still_named):
                await asyncio.to_thread(self._store.delete, sha)
                files += 1
        return Purged(media=removed.media, bytes=removed.bytes, files=files)

    # --- helpers -----------------------------------------------------------------------

    def _check_upload(
        self, content_type: str | None, filename: str | None, content_length: int | None
    ) -> tuple[str, str | None]:
        if filename is not None and filename != "" and not valid_filename(filename):
            raise InvalidParam("filename must be at most 255 characters, none of them control")
        if content_length is not None and content_length > self.max_upload_bytes:
            raise self._too_large()
        return normalise_content_type(content_type), filename or None

    def _too_large(self) -> TooLarge:
        return TooLarge(f"Cannot upload files larger than {self.max_upload_bytes} bytes")

    async def _check_quota(self, user_id: str, incoming: int) -> None:
        """Refuse before reading the body when the quota is used up already (or the
        announced size would pass it); the check that counts is `_check_quota_on`."""
        if not self._settings.quota_bytes_per_user:
            return
        async with self._db.read() as conn:
            await self._check_quota_on(conn, user_id, incoming)

    async def _check_quota_on(self, conn: AsyncConnection, user_id: str, incoming: int) -> None:
        quota = self._settings.quota_bytes_per_user
        if quota and await repo.used_bytes(conn, user_id) + incoming > quota:
            raise Forbidden("This upload would exceed your storage quota")

    def _check_local(self, server_name: str, media_id: str) -> None:
        """The spec's sanitising of `mxc://` parts: a malformed server name or media id is
        400 M_INVALID_PARAM; another server's media is not here (no federation)."""
        if not valid_server_name(server_name) or not valid_media_id(media_id):
            raise InvalidParam("Invalid server name or media id")
        if server_name != self._server_name:
            raise NotFound("Media not found")

    def _check_fillable(self, requester: Requester, record: MediaRecord | None) -> None:
        now = self._clock.now_ms()
        if record is None or (
            record.sha256 is None and record.expires_ts is not None and record.expires_ts <= now
        ):
            raise NotFound("Unknown media ID")
        if record.user_id != requester.user_id:
            raise Forbidden("Only the account that created this media ID may upload to it")
        if record.sha256 is not None:
            raise CannotOverwriteMedia

    def _check_legacy_open(self) -> None:
        if not self._settings.legacy_unauthenticated_downloads:
            raise NotFound(
                "Unauthenticated media downloads are frozen on this server: "
                "use /_matrix/client/v1/media"
            )

    async def _uploaded(self, server_name: str, media_id: str, timeout_ms: int | None) -> Content:
        """The row of a media id with content, waiting for a created id's upload."""
        self._check_local(server_name, media_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms(timeout_ms) / 1000
        while True:
            # Taken before the read, so an upload committed after the read still wakes us.
            done = self._upload_done
            async with self._db.read() as conn:
                record = await repo.get_media(conn, media_id)
            if record is None:
                raise NotFound("Media not found")
            if record.sha256 is not None:
                return Content(
                    record.sha256, record.content_type or DEFAULT_CONTENT_TYPE, record.filename
                )
            if record.expires_ts is not None and record.expires_ts <= self._clock.now_ms():
                raise NotFound("Media not found")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NotYetUploaded
            try:
                async with asyncio.timeout(min(remaining, _POLL_S)):
                    await done.wait()
            except TimeoutError:
                pass

    def _served(self, sha256: str, content_type: str, filename: str | None) -> ServedFile:
        stat = self._store.stat(sha256)
        if stat is None:
            logger.error("media file %s is missing from the store", sha256)
            raise NotFound("Media not found")
        return ServedFile(self._store.path(sha256), stat, content_type, filename, sha256)


def _new_media_id() -> str:
    return "".join(secrets.choice(_MEDIA_ID_ALPHABET) for _ in range(_MEDIA_ID_LENGTH))


def _thumbnail_name(thumb: ThumbnailRecord) -> str:
    return "thumbnail.jpg" if thumb.content_type == "image/jpeg" else "thumbnail.png"
