"""The page's wording for access records (pure): every field read defensively, unknown
kinds, actions and resources shown as they are, and the three proof states."""

import pytest

from candor.core.canonical_json import JsonDict
from candor.matrix.privacy.service import MyAccesses
from candor.web.accesses import access_row, accesses_view, describe_resource, human_time

ADMIN_READ: JsonDict = {
    "index": 7,
    "record": {
        "v": 1,
        "actor": {"kind": "admin", "id": "@root:test.local"},
        "basis": "abuse report #12",
        "subjects": ["@alice:test.local", "@bob:test.local"],
        "resource": {"room_id": "!r:test.local", "from": 3, "to": 9, "count": 4},
        "action": "admin.read_room_messages",
        "ts": 1_700_000_000_000,
    },
    "proof": {"size": 8, "hashes": []},
    "verified": True,
}


def test_an_admin_read_in_plain_language() -> None:
    row = access_row(ADMIN_READ)

    assert row.index == 7
    assert (row.who, row.actor_id) == ("An administrator", "@root:test.local")
    assert row.what == "read messages in a conversation"
    assert row.resource == (
        "4 messages and events in conversation !r:test.local (stream positions 3 to 9)"
    )
    assert (row.why_label, row.why) == ("Justification given", "abuse report #12")
    assert row.when == "14 November 2023, 22:13:20 UTC"
    assert row.when_iso == "2023-11-14T22:13:20Z"
    assert row.people == 2
    assert row.status == "verified"


@pytest.mark.parametrize(
    ("proof", "verified", "status"),
    [(None, False, "pending"), ({"size": 3, "hashes": []}, False, "failed")],
)
def test_proof_states(proof: object, verified: bool, status: str) -> None:
    assert access_row({**ADMIN_READ, "proof": proof, "verified": verified}).status == status


def test_a_partner_app_reads_under_a_grant() -> None:
    record = {
        **ADMIN_READ["record"],  # type: ignore[dict-item]
        "actor": {"kind": "partner_app", "id": "app_123"},
        "basis": "grant_9",
        "action": "partner.read_events",
    }

    row = access_row({**ADMIN_READ, "record": record})

    assert row.who == "A partner app"
    assert (row.why_label, row.why) == ("Under grant", "grant_9")
    assert row.what == "partner.read_events"


def test_an_unfamiliar_or_broken_record_still_reads() -> None:
    row = access_row({"record": {"actor": {"kind": "robot"}, "ts": "yesterday", "subjects": 3}})

    assert row.who == "Someone of kind “robot”"
    assert row.actor_id == ""
    assert row.what == "an unnamed action"
    assert row.why == "none given"
    assert row.when == "an unknown time"
    assert row.people == 0
    assert row.resource == "not stated"
    assert row.status == "pending"
    assert access_row({}).who == "Someone"


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        (
            {"room_id": "!r:x", "from": 5, "to": 5, "count": 1},
            "1 message or event in conversation !r:x (stream position 5)",
        ),
        ({"room_id": "!r:x", "from": 1, "to": 2}, "Conversation !r:x (stream positions 1 to 2)"),
        ({"room_id": "!r:x", "count": 3}, "3 messages and events in conversation !r:x"),
        ({"room_id": "!r:x"}, "Conversation !r:x"),
        ({"room_id": "!r:x", "from": True, "to": 2}, "Conversation !r:x"),
        ({"export": "all", "format": "json"}, "export: all; format: json"),
        ({}, "not stated"),
    ],
)
def test_resources(resource: JsonDict, text: str) -> None:
    assert describe_resource(resource) == text


def test_an_impossible_time_is_unknown() -> None:
    assert human_time(10**20) == ("an unknown time", "")


def test_the_view_counts_pending_records_and_knows_when_it_is_cut_off() -> None:
    pending = {**ADMIN_READ, "proof": None, "verified": False}
    found = MyAccesses("note", [ADMIN_READ, pending], 8, "test.local/candor-log")

    view = accesses_view(found, limit=2)

    assert (view.checkpoint_size, view.checkpoint_origin) == (8, "test.local/candor-log")
    assert view.pending == 1
    assert view.maybe_more
    assert not accesses_view(found, limit=100).maybe_more
