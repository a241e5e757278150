"""The page's wording for access records (pure): every action the log can hold in plain
sentences with names instead of ids, every field read defensively, the proof states, the
ids a page looks up once, and paging links."""

import re
from dataclasses import astuple, replace
from pathlib import Path

import pytest

from candor.core.canonical_json import JsonDict
from candor.matrix.privacy.service import MyAccesses, Names
from candor.transparency.records import AccessAction
from candor.web.accesses import (
    WORDING,
    AccessRow,
    AppRef,
    GrantRef,
    Lookups,
    access_row,
    accesses_view,
    human_span,
    human_time,
    join_words,
    wanted,
)

ME, BOB, CAROL, ROOT = "@alice:x", "@bob:x", "@carol:x", "@root:x"
FILM, BOOKS = "!film:x", "!books:x"
TS = 1_700_000_000_000  # 14 November 2023, 22:13:20 UTC
NAMES = Lookups(
    viewer=ME,
    names=Names(
        people={BOB: "Bob", CAROL: "Carol", ROOT: "Root"},
        rooms={FILM: "Film club", BOOKS: "Book club"},
        times={3: TS, 9: TS + 5 * 60_000},
    ),
    apps={"app_1": AppRef("Film Buddy", "/partners#app-app_1")},
    grants={
        "grant_a": GrantRef(FILM, (CAROL, ME, BOB)),
        "grant_b": GrantRef(BOOKS, (ME, BOB)),
    },
)
# Codes a person must never have to read (the issue's list).
INTERNAL = re.compile(r"partner\.|admin\.|Admin\.|grant_|!\w+:|\['|app_1|token")


def item(record: JsonDict, *, verified: bool = True, index: int = 7) -> JsonDict:
    return {
        "index": index,
        "record": {"v": 1, "ts": TS, **record},
        "proof": {"size": 8, "hashes": []},
        "verified": verified,
    }


def partner(action: AccessAction, basis: str, resource: JsonDict) -> JsonDict:
    return {
        "actor": {"kind": "partner_app", "id": "app_1"},
        "action": action.value,
        "basis": basis,
        "subjects": [BOB, CAROL, ME],
        "resource": resource,
    }


def admin(action: AccessAction, resource: JsonDict) -> JsonDict:
    return {
        "actor": {"kind": "admin", "id": ROOT},
        "action": action.value,
        "basis": "abuse report #12",
        "subjects": [BOB, ME],
        "resource": resource,
    }


# One record of each kind as its write site makes it, and what the page must say of it.
SAMPLES: dict[AccessAction, tuple[JsonDict, list[str]]] = {
    AccessAction.PARTNER_READ_MESSAGES: (
        partner(
            AccessAction.PARTNER_READ_MESSAGES,
            "grant grant_a",
            {
                "room_id": FILM,
                "grant_id": "grant_a",
                "from": 3,
                "to": 9,
                "count": 4,
                "withheld": 1,
            },
        ),
        [
            "Film Buddy read messages in “Film club”",
            "4 messages in “Film club”, sent on 14 November 2023 between 22:13 and 22:18 UTC",
            "1 message was withheld",
            "The consent to share “Film club” (you, Bob and Carol)",
        ],
    ),
    AccessAction.PARTNER_LIST_ROOMS: (
        partner(
            AccessAction.PARTNER_LIST_ROOMS,
            "grants grant_a grant_b",
            {"rooms": [FILM, BOOKS], "count": 2},
        ),
        [
            "Film Buddy saw which conversations are shared with it",
            "“Film club” and “Book club”",
            "The consent to share “Film club” (you, Bob and Carol) and “Book club” (you and Bob)",
        ],
    ),
    AccessAction.PARTNER_READ_PROFILE: (
        partner(
            AccessAction.PARTNER_READ_PROFILE,
            "consent to scope profile (token tok_1)",
            {"profile": ["user_id", "displayname"]},
        ),
        [
            "Film Buddy read your profile",
            "Your display name and user id",
            "Your consent when you connected the app",
        ],
    ),
    AccessAction.ADMIN_READ_MESSAGES: (
        admin(AccessAction.ADMIN_READ_MESSAGES, {"room_id": FILM, "from": 3, "to": 9, "count": 4}),
        [
            "An administrator read messages in “Film club”",
            "4 messages and other events in “Film club”, sent on 14 November 2023",
            "signed in as Root (@root:x)",
            "abuse report #12",
        ],
    ),
    AccessAction.ADMIN_LIST_USERS: (
        admin(AccessAction.ADMIN_LIST_USERS, {"directory": "users", "first": BOB, "count": 37}),
        [
            "An administrator looked at the list of accounts",
            "A list of 37 accounts including yours",
        ],
    ),
    AccessAction.ADMIN_LIST_ROOMS: (
        admin(AccessAction.ADMIN_LIST_ROOMS, {"directory": "rooms", "first": FILM, "count": 12}),
        ["An administrator looked at the list of rooms", "A list of 12 rooms"],
    ),
    AccessAction.ADMIN_READ_REPORTED_EVENT: (
        admin(
            AccessAction.ADMIN_READ_REPORTED_EVENT,
            {"report_id": 3, "room_id": FILM, "event_id": "$e", "from": 3, "to": 3, "count": 1},
        ),
        [
            "An administrator read a reported message in “Film club”",
            "1 message of yours in “Film club” that someone reported",
        ],
    ),
    AccessAction.ADMIN_WHOIS: (
        admin(AccessAction.ADMIN_WHOIS, {"whois": BOB, "devices": 2}),
        ["An administrator looked up your sessions", "Your devices and when each was last used"],
    ),
    AccessAction.ACCOUNT_ERASED: (
        {
            "actor": {"kind": "system", "id": "x"},
            "action": AccessAction.ACCOUNT_ERASED.value,
            "basis": "the account holder asked for their account to be erased",
            "subjects": [ME],
            "resource": {"erased": ["messages", "display name", "avatar", "uploaded media"]},
        },
        [
            "The server itself erased the account's content at its holder's request",
            "Its messages, display name, avatar and uploaded media",
        ],
    ),
}


def words(row: AccessRow) -> str:
    return " | ".join(
        [f"{row.who} {row.did}", row.who_detail, row.saw, row.why, row.when, row.people]
    )


def test_every_action_the_log_can_hold_has_wording_and_a_sample() -> None:
    """A new `AccessAction` without wording (or without a sample here) fails this test."""
    assert set(WORDING) == set(AccessAction)
    assert set(SAMPLES) == set(AccessAction)


@pytest.mark.parametrize("action", list(AccessAction), ids=lambda a: a.value)
def test_each_action_in_plain_language(action: AccessAction) -> None:
    record, expected = SAMPLES[action]

    row = access_row(item(record), NAMES)
    text = words(row)

    for phrase in expected:
        assert phrase in text
    assert not INTERNAL.search(text), text
    assert row.when == "14 November 2023, 22:13:20 UTC"
    assert row.status == "verified"


def test_the_app_links_to_its_published_agreement() -> None:
    row = access_row(item(SAMPLES[AccessAction.PARTNER_READ_PROFILE][0]), NAMES)

    assert (row.who, row.who_url, row.who_detail) == (
        "Film Buddy",
        "/partners#app-app_1",
        "a partner app",
    )
    assert not row.why_is_quote


def test_an_administrator_gives_a_reason_quoted_as_written() -> None:
    row = access_row(item(SAMPLES[AccessAction.ADMIN_READ_MESSAGES][0]), NAMES)

    assert (row.who, row.who_url) == ("An administrator", None)
    assert (row.why_label, row.why, row.why_is_quote) == (
        "The reason they gave",
        "abuse report #12",
        True,
    )
    assert row.people == "You and 1 other person"


def test_without_names_the_page_still_says_nothing_internal() -> None:
    """Unknown app, gone grant, unnamed room, unknown positions: general words, no ids."""
    bare = Lookups(viewer=ME)
    for record, _ in SAMPLES.values():
        text = words(access_row(item(record), bare))
        assert not INTERNAL.search(text), text
    row = access_row(item(SAMPLES[AccessAction.PARTNER_READ_MESSAGES][0]), bare)
    assert row.who == "A partner app that no longer exists"
    assert "a conversation without a name" in row.did
    assert row.why == "The members' consent to share a conversation"


def test_an_unfamiliar_or_broken_record_still_reads() -> None:
    row = access_row(
        {"record": {"actor": {"kind": "robot"}, "ts": "yesterday", "subjects": 3}}, NAMES
    )

    assert row.who == "Someone"
    assert row.did == "accessed your data"
    assert row.why == "None given"
    assert row.when == "an unknown time"
    assert row.people == "Only you"
    assert row.status == "pending"
    assert access_row({}, NAMES).who == "Someone"
    odd = access_row(item({**SAMPLES[AccessAction.ADMIN_LIST_USERS][0], "action": "x.y"}), NAMES)
    assert "x.y" not in words(odd)


@pytest.mark.parametrize(
    ("proof", "verified", "status"),
    [(None, False, "pending"), ({"size": 3, "hashes": []}, False, "failed")],
)
def test_proof_states(proof: object, verified: bool, status: str) -> None:
    record = item(SAMPLES[AccessAction.ADMIN_LIST_ROOMS][0])
    assert access_row({**record, "proof": proof, "verified": verified}, NAMES).status == status


def test_a_page_looks_each_id_up_once() -> None:
    records = [item(r) for r, _ in SAMPLES.values()] * 3

    ids = wanted(records)

    assert ids.apps == {"app_1"}
    assert ids.grants == {"grant_a", "grant_b"}
    assert ids.rooms == {FILM, BOOKS}
    assert ids.people == {ROOT}
    assert ids.positions == {3, 9}


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        (TS, TS + 1000, "on 14 November 2023 at 22:13 UTC"),
        (TS, TS + 3_600_000, "on 14 November 2023 between 22:13 and 23:13 UTC"),
        (
            TS,
            TS + 86_400_000,
            "between 14 November 2023, 22:13 UTC and 15 November 2023, 22:13 UTC",
        ),
        (TS, 10**20, ""),
    ],
)
def test_time_spans(first: int, last: int, text: str) -> None:
    assert human_span(first, last) == text


def test_an_impossible_time_is_unknown() -> None:
    assert human_time(10**20) == ("an unknown time", "")


def test_join_words() -> None:
    assert [join_words(x) for x in ([], ["you"], ["you", "Bob"], ["you", "Bob", "Carol"])] == [
        "",
        "you",
        "you and Bob",
        "you, Bob and Carol",
    ]


def test_the_view_counts_pending_records_and_links_newer_and_older_pages() -> None:
    first = item(SAMPLES[AccessAction.ADMIN_LIST_ROOMS][0], index=20)
    pending = {
        **item(SAMPLES[AccessAction.ADMIN_LIST_USERS][0], index=12),
        "proof": None,
        "verified": False,
    }
    found = MyAccesses("note", [first, pending], 8, "test.local/candor-log")

    view = accesses_view(found, NAMES)
    paged = accesses_view(replace(found, newer=True, older=True), NAMES)

    assert (view.checkpoint_size, view.checkpoint_origin) == (8, "test.local/candor-log")
    assert view.pending == 1
    assert (view.newer_url, view.older_url) == (None, None)
    assert paged.newer_url == "/privacy/accesses?after=20"
    assert paged.older_url == "/privacy/accesses?before=12"
    assert all(isinstance(v, str | int | bool | None) for v in astuple(view.rows[0]))


def test_the_docs_name_every_action() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "transparency.md").read_text()
    assert [a.value for a in AccessAction if f"`{a.value}`" not in docs] == []
