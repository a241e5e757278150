"""`record_access` on both engines: the record and its commitment commit together, the
people concerned can read it, refusals change nothing, and a failing log fails the access."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.store.db import Database
from candor.store.models.transparency import AccessRecordRow
from candor.transparency.access import AccessLog, LogUnavailable
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import leaf_hash, verify_inclusion
from candor.transparency.records import AccessAction, AccessRefused, ActorKind

ALICE, BOB = "@alice:test.local", "@bob:test.local"


@dataclass
class Env:
    db: Database
    log: TransparencyLog
    access: AccessLog


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    db = Database(settings.sqlalchemy_url())
    log = TransparencyLog(db)
    await log.start()
    yield Env(db, log, AccessLog(db, log, FakeClock()))
    await log.stop()
    await db.dispose()


async def admin_read(env: Env, justification: str = "abuse report #12") -> int:
    return await env.access.record_access(
        actor_kind=ActorKind.ADMIN,
        actor_id="@root:test.local",
        basis=justification,
        subjects=[ALICE, BOB, ALICE],
        resource={"room_id": "!r:test.local", "from": 3, "to": 9},
        action=AccessAction.ADMIN_READ_MESSAGES,
    )


async def test_a_recorded_access_is_in_the_log_and_shown_to_each_person(env: Env) -> None:
    index = await admin_read(env)

    for person in (ALICE, BOB):
        (record,) = await env.access.list_for_user(person)
        assert record.index == index
        assert record.record["basis"] == "abuse report #12"
        assert record.record["subjects"] == [ALICE, BOB]
    assert await env.access.list_for_user("@carol:test.local") == []
    (record,) = await env.access.list_for_user(ALICE)
    # The public entry is the salted commitment, which the person can recompute.
    assert await env.access.index_of(leaf_hash(record.leaf)) == index
    size = await env.log.size()
    proof = await env.log.inclusion_proof(index, size)
    assert verify_inclusion(index, size, leaf_hash(record.leaf), proof, await env.log.root(size))


async def test_the_public_entry_reveals_nobody(env: Env) -> None:
    await admin_read(env)

    (leaf,) = await env.log.entries(0, 1)

    assert len(leaf) == 32
    assert b"alice" not in leaf
    assert b"abuse" not in leaf


@pytest.mark.parametrize("justification", ["", "   "])
async def test_an_admin_read_without_justification_is_refused(env: Env, justification: str) -> None:
    with pytest.raises(AccessRefused):
        await admin_read(env, justification)

    assert await env.log.size() == 0
    assert await env.access.list_for_user(ALICE) == []


async def test_a_partner_read_without_a_grant_is_refused(env: Env) -> None:
    with pytest.raises(AccessRefused):
        await env.access.record_access(
            actor_kind=ActorKind.PARTNER_APP,
            actor_id="app_1",
            basis="",
            subjects=[ALICE],
            resource={"room_id": "!r:test.local"},
            action=AccessAction.ADMIN_READ_MESSAGES,
        )

    assert await env.log.size() == 0


async def test_when_the_record_cannot_be_stored_the_access_fails_and_nothing_is_logged(
    env: Env,
) -> None:
    await admin_read(env)
    # Sabotage: the next index's record row already exists, so the batch must roll back.
    async with env.db.write() as conn:
        await conn.execute(
            insert(AccessRecordRow).values(
                index=1, salt=b"s" * 32, leaf_hash=b"h" * 32, record_json="{}", created_ts=0
            )
        )

    with pytest.raises(Exception, match=r"(?i)unique|duplicate|integrity"):
        await admin_read(env)

    assert await env.log.size() == 1
    assert len(await env.access.list_for_user(ALICE)) == 1


async def test_a_stopped_log_refuses_every_access(env: Env) -> None:
    await env.log.stop()

    with pytest.raises(RuntimeError):
        await admin_read(env)


async def test_a_persons_records_page_newest_first(env: Env) -> None:
    indices = [await admin_read(env, f"case {i}") for i in range(5)]

    first = await env.access.list_for_user(ALICE, limit=2)
    rest = await env.access.list_for_user(ALICE, before=first[-1].index, limit=10)

    assert [r.index for r in first] == indices[::-1][:2]
    assert [r.index for r in rest] == indices[::-1][2:]


async def test_record_or_refuse_keeps_a_refusal_and_turns_a_failure_into_503(env: Env) -> None:
    fields: dict[str, Any] = {
        "actor_kind": ActorKind.ADMIN,
        "actor_id": "@root:test.local",
        "subjects": [ALICE],
        "resource": {"room_id": "!r:test.local"},
        "action": AccessAction.ADMIN_READ_MESSAGES,
    }
    with pytest.raises(AccessRefused):
        await env.access.record_or_refuse(basis="  ", **fields)
    await env.log.stop()

    with pytest.raises(LogUnavailable) as failed:
        await env.access.record_or_refuse(basis="abuse report", **fields)

    assert (failed.value.status, failed.value.errcode) == (503, "CANDOR_LOG_UNAVAILABLE")
    assert await env.log.size() == 0
