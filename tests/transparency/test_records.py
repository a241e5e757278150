"""Access records: what may not be recorded may not happen; commitments bind record and salt."""

import pytest

from candor.transparency.records import (
    AccessRecord,
    AccessRefused,
    ActorKind,
    check_record,
    commitment,
)


def record(**changes: object) -> AccessRecord:
    fields: dict[str, object] = {
        "actor_kind": ActorKind.ADMIN,
        "actor_id": "@root:x",
        "basis": "court order 7",
        "subjects": ("@a:x",),
        "resource": {"room_id": "!r:x"},
        "action": "read_messages",
        "ts_ms": 1,
    }
    fields.update(changes)
    return AccessRecord(**fields)  # type: ignore[arg-type]


def test_a_complete_record_passes() -> None:
    check_record(record())
    check_record(record(actor_kind=ActorKind.SYSTEM, basis=""))


@pytest.mark.parametrize(
    "changes",
    [
        {"actor_id": ""},
        {"actor_id": "x" * 256},
        {"action": ""},
        {"action": "x" * 65},
        {"basis": " \n"},
        {"basis": "x" * 2001},
        {"actor_kind": ActorKind.PARTNER_APP, "basis": ""},
        {"subjects": ()},
    ],
    ids=[
        "no-actor",
        "long-actor",
        "no-action",
        "long-action",
        "blank-justification",
        "long-basis",
        "no-grant",
        "no-subjects",
    ],
)
def test_incomplete_records_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(AccessRefused):
        check_record(record(**changes))


def test_the_commitment_binds_salt_and_record() -> None:
    raw = record().canonical()
    leaf = commitment(b"s" * 32, raw)

    assert len(leaf) == 32
    assert commitment(b"t" * 32, raw) != leaf
    assert commitment(b"s" * 32, record(ts_ms=2).canonical()) != leaf
    with pytest.raises(ValueError, match="32"):
        commitment(b"short", raw)
