"""Media files on disk, content-addressed: DATA_DIR/media/files/ab/cd/abcd…(SHA-256).

Why by hash: identical uploads (a forwarded image, an avatar set twice) share one file,
and a file's name says what it must contain. Why this write order: a file is streamed to
a temporary file in media/tmp/ (same file system), `fsync`ed, renamed into place
atomically and its directory `fsync`ed, all before the row naming it commits and before
the client hears 200; a crash at any point leaves either nothing or a complete file.
A path under files/ therefore only ever holds complete content, whatever is killed when.

A temporary file is held under an exclusive `flock` while it is written, and the kernel
drops that lock when its process dies (SIGKILL included). `sweep_temporary` deletes
exactly the temporary files nobody holds: the leftovers of an interrupted upload, never
one another process on the same data directory is still writing.

All blocking file work runs off the event loop (`asyncio.to_thread`), a megabyte at a
time, so a large upload never stalls other requests.
"""

import asyncio
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

# Bytes gathered before each write in a worker thread.
WRITE_BATCH = 1 << 20


class FileTooLarge(Exception):
    """The stream went past the caller's limit; nothing was kept."""


class StagedFile:
    """A complete, `fsync`ed temporary file; `commit` puts it at its content address."""

    def __init__(self, store: "MediaStore", temp: Path, sha256: str, size: int) -> None:
        self._store = store
        self._temp = temp
        self.sha256 = sha256
        self.size = size
        self.committed = False

    async def commit(self) -> None:
        """Rename into place and `fsync` the directory: after this the file survives a
        crash. Renaming over an existing copy of the same content is harmless."""
        await asyncio.to_thread(self._store.install, self._temp, self.sha256)
        self.committed = True


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files = root / "files"
        self._tmp = root / "tmp"

    def path(self, sha256: str) -> Path:
        return self._files / sha256[:2] / sha256[2:4] / sha256

    def stat(self, sha256: str) -> os.stat_result | None:
        """The file's metadata, or None when it is missing (deleted by hand, say)."""
        try:
            return self.path(sha256).stat()
        except FileNotFoundError:
            return None

    @asynccontextmanager
    async def stage(
        self, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> AsyncIterator[StagedFile]:
        """Write `chunks` to a locked temporary file, hashing as they come; raise
        `FileTooLarge` past `max_bytes`. Whatever happens in the block, the temporary
        file is gone at its end unless it was committed."""
        fd, temp = await asyncio.to_thread(self._create_temporary)
        staged: StagedFile | None = None
        try:
            hasher = hashlib.sha256()
            size = 0
            batch = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    await asyncio.to_thread(_write, fd, hasher, bytes(batch))
                    batch.clear()
            if batch:
                await asyncio.to_thread(_write, fd, hasher, bytes(batch))
            await asyncio.to_thread(os.fsync, fd)
            staged = StagedFile(self, temp, hasher.hexdigest(), size)
            yield staged
        finally:
            os.close(fd)  # releases the lock
            if staged is None or not staged.committed:
                temp.unlink(missing_ok=True)

    @asynccontextmanager
    async def stage_bytes(self, data: bytes) -> AsyncIterator[StagedFile]:
        """`stage` for content already in memory (a thumbnail)."""

        async def one() -> AsyncIterator[bytes]:
            yield data

        async with self.stage(one(), max_bytes=len(data)) as staged:
            yield staged

    def install(self, temp: Path, sha256: str) -> None:
        """Blocking: the rename and the directory `fsync`s (new shard directories too)."""
        dest = self.path(sha256)
        shard = dest.parent
        if not shard.is_dir():
            shard.mkdir(parents=True, exist_ok=True, mode=0o700)
            _fsync_dir(shard.parent)
            _fsync_dir(self._files)
            _fsync_dir(self.root)
        os.replace(temp, dest)
        _fsync_dir(shard)

    def delete(self, sha256: str) -> None:
        """Blocking. A lost deletion (power cut) leaves an unreferenced file, never a
        reference without its file, so no directory `fsync` is needed here."""
        self.path(sha256).unlink(missing_ok=True)

    def sweep_temporary(self) -> int:
        """Blocking: delete the temporary files no live process holds; how many."""
        if not self._tmp.is_dir():
            return 0
        removed = 0
        for path in self._tmp.iterdir():
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an upload in progress in some process
                if _same_file(fd, path):
                    path.unlink(missing_ok=True)
                    removed += 1
            finally:
                os.close(fd)
        if removed:
            logger.info("removed %d interrupted media uploads", removed)
        return removed

    def _create_temporary(self) -> tuple[int, Path]:
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            temp = self._tmp / f"{secrets.token_hex(16)}.part"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # A sweeper may have taken the new file in the instant before the lock.
                if _same_file(fd, temp):
                    return fd, temp
            except BlockingIOError:
                pass
            os.close(fd)


def _write(fd: int, hasher: "hashlib._Hash", data: bytes) -> None:
    hasher.update(data)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
