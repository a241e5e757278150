"""The content-addressed file store: atomic installs, no leftovers, and the sweep that
removes only the temporary files nobody holds."""

import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from candor.matrix.media.storage import FileTooLarge, MediaStore


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def temporaries(store: MediaStore) -> list[Path]:
    tmp = store.root / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


async def test_a_committed_file_lives_at_its_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = b"hello " * 100_000  # more than one write batch
    async with store.stage(chunks(data[:7], data[7:]), max_bytes=len(data)) as staged:
        assert staged.size == len(data)
        assert staged.sha256 == hashlib.sha256(data).hexdigest()
        await staged.commit()

    path = store.path(staged.sha256)
    assert path.read_bytes() == data
    assert path.relative_to(store.root).parts[:3] == (
        "files",
        staged.sha256[:2],
        staged.sha256[2:4],
    )
    assert temporaries(store) == []


async def test_an_uncommitted_file_leaves_nothing(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    async with store.stage(chunks(b"abc"), max_bytes=10) as staged:
        pass
    assert store.stat(staged.sha256) is None
    assert temporaries(store) == []


async def test_too_large_leaves_nothing(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    with pytest.raises(FileTooLarge):
        async with store.stage(chunks(b"12345", b"678"), max_bytes=7):
            pass
    assert temporaries(store) == []
    assert not (store.root / "files").exists()


async def test_a_failing_stream_leaves_nothing(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")

    async def broken() -> AsyncIterator[bytes]:
        yield b"part"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        async with store.stage(broken(), max_bytes=100):
            pass
    assert temporaries(store) == []


async def test_identical_content_shares_one_file(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    hashes = []
    for _ in range(2):
        async with store.stage(chunks(b"same"), max_bytes=10) as staged:
            await staged.commit()
            hashes.append(staged.sha256)
    assert hashes[0] == hashes[1]
    files = [p for p in (store.root / "files").rglob("*") if p.is_file()]
    assert files == [store.path(hashes[0])]


async def test_sweep_removes_abandoned_temporaries_only(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    tmp = store.root / "tmp"
    tmp.mkdir(parents=True)
    abandoned = tmp / "dead.part"
    abandoned.write_bytes(b"half an upload")
    held = tmp / "live.part"
    held.write_bytes(b"being written")
    # Another open file description holding the lock: an upload in progress elsewhere.
    fd = os.open(held, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert store.sweep_temporary() == 1
        assert not abandoned.exists()
        assert held.exists()
    finally:
        os.close(fd)
    assert store.sweep_temporary() == 1
    assert temporaries(store) == []


async def test_an_upload_in_progress_survives_a_sweep(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")

    async def sweeping() -> AsyncIterator[bytes]:
        yield b"first half "
        assert store.sweep_temporary() == 0
        yield b"second half"

    async with store.stage(sweeping(), max_bytes=100) as staged:
        await staged.commit()
    assert store.path(staged.sha256).read_bytes() == b"first half second half"
