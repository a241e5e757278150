"""What an erasure prunes (pure): the person's events and member events about them, never
a room's configuration, and nothing that pruning would leave the same."""

import pytest

from candor.core.canonical_json import JsonDict
from candor.matrix.deactivation.rules import ROOM_CONFIGURATION, erased_content
from candor.transparency.records import AccessAction
from candor.web.accesses import WORDING, Lookups

ALICE, BOB = "@alice:test.local", "@bob:test.local"


def test_her_message_loses_its_content() -> None:
    content: JsonDict = {"msgtype": "m.text", "body": "hello"}
    assert erased_content(ALICE, "m.room.message", None, ALICE, content) == {}


def test_her_encrypted_message_loses_its_ciphertext_too() -> None:
    content: JsonDict = {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA..."}
    assert erased_content(ALICE, "m.room.encrypted", None, ALICE, content) == {}


def test_someone_else_s_message_is_left_alone() -> None:
    assert erased_content(ALICE, "m.room.message", None, BOB, {"body": "hi"}) is None


def test_an_invite_bob_sent_her_loses_her_name_and_avatar() -> None:
    content: JsonDict = {"membership": "invite", "displayname": "Alice", "avatar_url": "mxc://x/y"}
    assert erased_content(ALICE, "m.room.member", ALICE, BOB, content) == {"membership": "invite"}


def test_a_member_event_about_bob_keeps_its_content_unless_she_sent_it() -> None:
    content: JsonDict = {"membership": "join", "displayname": "Bob"}
    assert erased_content(ALICE, "m.room.member", BOB, BOB, content) is None
    assert erased_content(ALICE, "m.room.member", BOB, ALICE, content) == {"membership": "join"}


@pytest.mark.parametrize("event_type", sorted(ROOM_CONFIGURATION))
def test_a_room_s_configuration_she_set_is_left_alone(event_type: str) -> None:
    content: JsonDict = {"algorithm": "m.megolm.v1.aes-sha2", "join_rule": "public", "x": 1}
    assert erased_content(ALICE, event_type, "", ALICE, content) is None


def test_a_room_name_she_set_is_pruned() -> None:
    assert erased_content(ALICE, "m.room.name", "", ALICE, {"name": "Garden"}) == {}


def test_nothing_to_prune_is_not_rewritten() -> None:
    assert erased_content(ALICE, "m.room.member", ALICE, ALICE, {"membership": "leave"}) is None


def test_the_erasure_record_is_worded_without_codes() -> None:
    record: JsonDict = {"action": AccessAction.ACCOUNT_ERASED.value, "resource": {}}
    wording = WORDING[AccessAction.ACCOUNT_ERASED](record, Lookups(viewer=ALICE))
    assert "erased" in wording.did
    assert "account." not in f"{wording.did} {wording.saw}"
