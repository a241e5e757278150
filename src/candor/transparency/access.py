"""`record_access`: the one call every reader of a person's data makes first (fail closed).

A partner app's read, an administrator's read and a data export each call
`record_access` and release data only after it returned: it validates the record,
appends its salted commitment to the log and stores the full record in the same
transaction, and returns the entry's index once durable. If anything fails, it raises,
and the access must fail with it (DESIGN invariant 2).
"""

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict, decode_dict
from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.store.db import Database
from candor.transparency import repository as repo
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import leaf_hash
from candor.transparency.records import (
    SALT_BYTES,
    AccessAction,
    AccessRecord,
    AccessRefused,
    ActorKind,
    check_record,
    commitment,
)

logger = logging.getLogger(__name__)


class LogUnavailable(CandorError):
    """The log could not take the record, so the access it describes is refused."""

    status = 503
    errcode = "CANDOR_LOG_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("The access could not be recorded, so it is refused")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    index: int
    salt: bytes
    record: JsonDict
    record_json: str

    @property
    def leaf(self) -> bytes:
        """The log entry this record must match: anyone can recompute it."""
        return commitment(self.salt, self.record_json.encode())


class AccessLog:
    def __init__(self, db: Database, log: TransparencyLog, clock: Clock) -> None:
        self._db = db
        self._log = log
        self._clock = clock

    async def record_access(
        self,
        *,
        actor_kind: ActorKind,
        actor_id: str,
        basis: str,
        subjects: Sequence[str],
        resource: JsonDict,
        action: AccessAction,
    ) -> int:
        """Record an access before it happens; returns the log index once durable."""
        record = AccessRecord(
            actor_kind,
            actor_id,
            basis,
            tuple(sorted(set(subjects))),
            resource,
            action,
            self._clock.now_ms(),
        )
        check_record(record)
        raw = record.canonical()
        salt = secrets.token_bytes(SALT_BYTES)

        leaf = commitment(salt, raw)
        entry_hash = leaf_hash(leaf)

        def rows(index: int) -> list[repo.EntryRow]:
            return repo.access_record_rows(
                index, salt, entry_hash, raw.decode(), record.ts_ms, record.subjects
            )

        return await self._log.append(leaf, rows)

    async def record_or_refuse(
        self,
        *,
        actor_kind: ActorKind,
        actor_id: str,
        basis: str,
        subjects: Sequence[str],
        resource: JsonDict,
        action: AccessAction,
    ) -> int:
        """`record_access` for a request about to release data: the one fail-closed rule.

        A record that may not be made (`AccessRefused`) stays the caller's 400; any other
        failure is logged and becomes `503 CANDOR_LOG_UNAVAILABLE`, so every reader (admin,
        partner inbox, partner profile) refuses the same way and releases nothing.
        """
        try:
            return await self.record_access(
                actor_kind=actor_kind,
                actor_id=actor_id,
                basis=basis,
                subjects=subjects,
                resource=resource,
                action=action,
            )
        except AccessRefused:
            raise
        except Exception as exc:
            logger.exception("access record for %s by %s failed; refusing it", action, actor_id)
            raise LogUnavailable from exc

    async def index_of(self, leaf_hash_value: bytes) -> int | None:
        """The log index of the record whose entry has this leaf hash, or None."""
        async with self._db.read() as conn:
            return await repo.find_access_record(conn, leaf_hash_value)

    async def list_for_user(
        self,
        user_id: str,
        *,
        before: int | None = None,
        limit: int = 100,
        after: int | None = None,
    ) -> list[StoredRecord]:
        async with self._db.read() as conn:
            rows = await repo.list_access_records(
                conn, user_id, before=before, limit=limit, after=after
            )
        return [StoredRecord(i, salt, decode_dict(raw), raw) for i, salt, raw in rows]
