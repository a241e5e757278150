"""Access records: what may not be recorded may not happen; commitments bind record and salt."""

import pytest

from candor.transparency.records import (
    AccessAction,
    AccessRecord,
    AccessRefused,
    ActorKind,
    check_record,
    commitment,
    has_visible_text,
)


def record(**changes: object) -> AccessRecord:
    fields: dict[str, object] = {
        "actor_kind": ActorKind.ADMIN,
        "actor_id": "@root:x",
        "basis": "court order 7",
        "subjects": ("@a:x",),
        "resource": {"room_id": "!r:x"},
        "action": AccessAction.ADMIN_READ_MESSAGES,
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
        {"action": "admin.read_room_messages"},
        {"basis": " \n"},
        {"basis": "x" * 2001},
        {"actor_kind": ActorKind.PARTNER_APP, "basis": ""},
        {"subjects": ()},
    ],
    ids=[
        "no-actor",
        "long-actor",
        "no-action",
        "plain-string-action",
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


@pytest.mark.parametrize(
    "blank",
    [
        "",
        " \t\n\u00a0\u3000",
        "\u200b",  # zero-width space (Cf)
        "\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM (Cf)
        "\u202e\u2066",  # bidi controls (Cf)
        "\u0301\u034f",  # combining marks with no base
        "\u3164\u115f\u2800",  # Hangul fillers and the braille blank
        "\x00\x1f",
    ],
)
def test_a_justification_without_a_visible_character_is_refused(blank: str) -> None:
    assert not has_visible_text(blank)
    with pytest.raises(AccessRefused, match="justification"):
        check_record(record(basis=blank))


@pytest.mark.parametrize("words", ["abuse report 7", "\u200b7", "\u5831\u544a", "\u00e9"])
def test_a_justification_with_a_visible_character_passes(words: str) -> None:
    assert has_visible_text(words)
    check_record(record(basis=words))
