"""The public face of the log: signed checkpoints and proofs in their wire form.

A checkpointer signs a new C2SP checkpoint at most every `checkpoint_interval_ms` while
the log grows (and one for the empty log at first start), and stores it, so every worker
serves the same bytes and a witness can hold the log to everything it ever published.
Signing costs a root read (O(log n) tiles) and one Ed25519 signature, whatever the size.
"""

import asyncio
import base64
import binascii
import contextlib
import logging
from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.access import AccessLog
from candor.transparency.checkpoint import (
    Checkpoint,
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
)
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import ProofError
from candor.transparency.note import NoteError, Signer
from candor.transparency.tiles import (
    TILE_WIDTH,
    TileID,
    bundle_prefix,
    parse_tile_path,
    tile_width,
)

logger = logging.getLogger(__name__)

MAX_LEAVES_PAGE = 1000
_CHECKPOINT_LOCK = 0x544C4350  # "TLCP"


class TransparencyError(CandorError):
    """The log API's errors, in the `CANDOR_…` shape."""

    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


class ForeignLogKey(RuntimeError):
    """This worker's signing key did not sign the log it would extend."""


def invalid(message: str) -> TransparencyError:
    return TransparencyError(400, "CANDOR_INVALID_PARAM", message)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    hashes: list[bytes]


class TransparencyService:
    def __init__(
        self,
        db: Database,
        log: TransparencyLog,
        access: AccessLog,
        signer: Signer,
        clock: Clock,
        interval_ms: int,
    ) -> None:
        self._db = db
        self._log = log
        self._access = access
        self._signer = signer
        self._clock = clock
        self._interval = interval_ms / 1000
        self._task: asyncio.Task[None] | None = None

    @property
    def origin(self) -> str:
        return self._signer.name

    @property
    def signer(self) -> Signer:
        """The server's Ed25519 key; engagement reports are signed with it too."""
        return self._signer

    def verifier_key(self) -> str:
        return str(self._signer.verifier())

    async def start(self) -> None:
        """Refuse to start with another key than the stored checkpoints', then sign.

        Every worker on one database must sign with the same key (a copy of the data dir's
        `transparency.key`): a second key would publish checkpoints that witnesses, who
        pin the first, reject as a fork. Failing here names the problem at deployment.
        """
        async with self._db.read() as conn:
            latest = await repo.get_latest_checkpoint(conn)
        if latest is not None:
            try:
                open_checkpoint(latest[2], self._signer.verifier())
            except (NoteError, CheckpointError):
                raise ForeignLogKey(
                    "the stored checkpoints were signed with another key than this "
                    "worker's transparency.key: copy the first worker's key into every "
                    "worker's data dir (docs/configuration.md, Several workers)"
                ) from None
        await self.make_checkpoint()
        self._task = asyncio.create_task(self._run(), name="tlog-checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.make_checkpoint()
            except Exception:
                logger.exception("checkpoint failed; retrying at the next interval")

    async def make_checkpoint(self) -> str:
        """Sign and store a checkpoint of the current size, unless one exists already."""
        async with self._db.read() as conn:
            latest = await repo.get_latest_checkpoint(conn)
        size = await self._log.size()
        if latest is not None and latest[0] >= size:
            return latest[2]
        root = await self._log.root(size)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self._signer)
        async with self._db.write() as conn:
            # Workers sign at once: the lock lets the second one see the first one's row
            # instead of breaking the size's primary key (SQLite's write lock does it there).
            await self._db.advisory_xact_lock(conn, _CHECKPOINT_LOCK)
            existing = await repo.get_latest_checkpoint(conn)
            if existing is not None and existing[0] >= size:
                return existing[2]  # another worker signed this size first
            await repo.add_checkpoint(conn, size, root, note, self._clock.now_ms())
        return note

    async def latest_checkpoint(self) -> str:
        return (await self.latest_tree_head())[2]

    async def latest_tree_head(self) -> tuple[int, bytes, str]:
        """(size, root hash, signed note) of the latest checkpoint, as stored when signed."""
        async with self._db.read() as conn:
            latest = await repo.get_latest_checkpoint(conn)
        if latest is None:
            await self.make_checkpoint()
            async with self._db.read() as conn:
                latest = await repo.get_latest_checkpoint(conn)
        assert latest is not None  # noqa: S101 - make_checkpoint stored one
        return latest

    async def inclusion(
        self, index: int | None, leaf_hash_b64: str | None, size: int
    ) -> InclusionProof:
        if (index is None) == (leaf_hash_b64 is None):
            raise invalid("Give exactly one of index and leaf_hash")
        if index is None:
            assert leaf_hash_b64 is not None  # noqa: S101 - checked just above
            wanted = _decode_hash(leaf_hash_b64)
            found = await self._access.index_of(wanted)
            if found is None:
                raise TransparencyError(404, "CANDOR_NOT_FOUND", "No entry has this leaf hash")
            index = found
        try:
            hashes = await self._log.inclusion_proof(index, size)
        except ProofError as exc:
            raise invalid(str(exc)) from None
        (entry,) = await self._log.leaf_hashes(index, index + 1)
        return InclusionProof(index, size, entry, hashes)

    async def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        try:
            return await self._log.consistency_proof(old_size, new_size)
        except ProofError as exc:
            raise invalid(str(exc)) from None

    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        if not 0 <= start < end or end - start > MAX_LEAVES_PAGE:
            raise invalid(f"Ask for 1..{MAX_LEAVES_PAGE} leaves with 0 <= start < end")
        try:
            return await self._log.leaf_hashes(start, end)
        except ProofError:
            raise invalid("end is past the log's size") from None


def _decode_hash(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("leaf_hash must be standard base64") from None
    if len(raw) != 32:
        raise invalid("leaf_hash must be 32 bytes")
    return raw


class TileService:
    """Tiles and entry bundles for standard C2SP tlog-tiles clients."""

    def __init__(self, db: Database, log: TransparencyLog) -> None:
        self._db = db
        self._log = log

    async def read(self, path: str) -> bytes:
        try:
            level, index, width = parse_tile_path(path)
        except ValueError as exc:
            raise invalid(f"Bad tile path: {exc}") from None
        size = await self._log.size()
        if level == "entries":
            return await self._entries(index, width, size)
        assert isinstance(level, int)  # noqa: S101 - parse_tile_path returns int or "entries"
        if tile_width(TileID(level, index), size) < width:
            raise TransparencyError(404, "CANDOR_NOT_FOUND", "No such tile at this size")
        async with self._db.read() as conn:
            tiles = await repo.get_tiles(conn, [TileID(level, index)])
        return tiles[TileID(level, index)][: width * 32]

    async def _entries(self, index: int, width: int, size: int) -> bytes:
        if size - index * TILE_WIDTH < width:
            raise TransparencyError(404, "CANDOR_NOT_FOUND", "No such entry bundle at this size")
        async with self._db.read() as conn:
            bundles = await repo.get_bundles(conn, [index])
        return bundle_prefix(bundles[index], width)
