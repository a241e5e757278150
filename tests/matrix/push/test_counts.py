"""Unread counts in /sync and GET /notifications, from the push rules evaluated when each
event was sent; read receipts (public or private) and one's own messages reset them. Both
engines."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from candor.config import Settings
from candor.matrix.errors import Forbidden
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import WriteContext
from candor.matrix.push import counting
from candor.store.db import Database
from candor.store.models.push import NotificationEvent, PushMembership
from tests.helpers.matrix import MatrixTestClient

_txn = itertools.count()


async def send(
    client: MatrixTestClient, room: str, content: Any, kind: str = "m.room.message"
) -> str:
    r = await client.ok("PUT", f"/rooms/{room}/send/{kind}/c{next(_txn)}", json=content)
    event_id: str = r["event_id"]
    return event_id


async def counts(client: MatrixTestClient, room: str) -> tuple[int, int]:
    unread = (await client.sync())["rooms"]["join"][room]["unread_notifications"]
    return unread["notification_count"], unread["highlight_count"]


async def read(client: MatrixTestClient, room: str, event_id: str, kind: str = "m.read") -> None:
    await client.ok("POST", f"/rooms/{room}/receipt/{kind}/{event_id}", json={})


async def group(*members: MatrixTestClient, **create: Any) -> str:
    owner, *others = members
    room = await owner.create_room(preset="public_chat", **create)
    for other in others:
        await other.join(room)
    return room


async def test_messages_count_and_mentions_highlight(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    await alice.send(room, "hello all")
    await send(
        alice,
        room,
        {"msgtype": "m.text", "body": "bob?", "m.mentions": {"user_ids": [bob.user_id]}},
    )
    await send(alice, room, {"msgtype": "m.notice", "body": "a bot says hi"})

    assert await counts(bob, room) == (2, 1)
    assert await counts(carol, room) == (2, 0)
    assert await counts(alice, room) == (0, 0)  # one's own messages never count


async def test_a_read_receipt_resets_the_counts_up_to_its_event(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    first = await alice.send(room, "one")
    await alice.send(room, "two bob")  # the legacy localpart rule: a highlight
    third = await alice.send(room, "three")

    await read(bob, room, first)
    assert await counts(bob, room) == (2, 1)
    await read(bob, room, third)
    assert await counts(bob, room) == (0, 0)
    await alice.send(room, "four")
    assert await counts(bob, room) == (1, 0)


async def test_a_private_read_receipt_also_counts_as_read(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    await alice.send(room, "one")
    last = await alice.send(room, "two")
    await read(bob, room, last, "m.read.private")
    assert await counts(bob, room) == (0, 0)
    # The later of the two receipts wins, whichever it is.
    first_of_next = await alice.send(room, "three")
    await alice.send(room, "four")
    await read(bob, room, first_of_next, "m.read")
    assert await counts(bob, room) == (1, 0)


async def test_sending_a_message_counts_as_reading_the_room(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    await alice.send(room, "one")
    await alice.send(room, "two")
    await bob.send(room, "I'm here")
    assert await counts(bob, room) == (0, 0)
    assert await counts(carol, room) == (3, 0)


async def test_a_muted_room_and_a_muted_sender_count_nothing_for_that_user_only(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    await bob.ok("PUT", f"/pushrules/global/room/{room}", json={"actions": []})
    await carol.ok("PUT", f"/pushrules/global/sender/{alice.user_id}", json={"actions": []})
    await alice.send(room, "anyone?")
    await bob.send(room, "me")
    assert await counts(bob, room) == (0, 0)
    assert await counts(carol, room) == (1, 0)  # bob's message only
    # Unmuting takes effect at once for the next message.
    await bob.ok("DELETE", f"/pushrules/global/room/{room}")
    await alice.send(room, "again")
    assert await counts(bob, room) == (1, 0)


async def test_a_users_own_keyword_highlights(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    body = {"pattern": "tea", "actions": ["notify", {"set_tweak": "highlight"}]}
    await bob.ok("PUT", "/pushrules/global/content/tea", json=body)
    await alice.send(room, "Tea, anyone?")
    assert await counts(bob, room) == (1, 1)
    assert await counts(carol, room) == (1, 0)


async def test_display_names_in_the_body_highlight_without_m_mentions(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await bob.ok(
        "PUT", f"/profile/{bob.user_id}/displayname", json={"displayname": "Robert Paulson"}
    )
    room = await group(alice, bob, carol)
    await alice.send(room, "his name is robert paulson")
    await send(alice, room, {"msgtype": "m.text", "body": "Robert Paulson", "m.mentions": {}})
    assert await counts(bob, room) == (2, 1)


async def test_a_room_mention_highlights_everyone_if_the_sender_may(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    at_room = {"msgtype": "m.text", "body": "all!", "m.mentions": {"room": True}}
    await send(alice, room, at_room)  # the creator: power level 100
    await send(bob, room, at_room)  # power level 0
    assert await counts(carol, room) == (2, 1)


async def test_encrypted_rooms_count_by_the_envelope(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id, carol.user_id])
    await bob.join(room)
    await carol.join(room)
    ciphertext = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "bob carol @room",
        "sender_key": "k",
        "session_id": "s",
        "device_id": "D",
    }
    await send(alice, room, ciphertext, "m.room.encrypted")
    await send(alice, room, ciphertext, "m.room.encrypted")
    assert await counts(bob, room) == (2, 0)  # .m.rule.encrypted: notify, never a highlight

    dm = await alice.create_room(
        preset="trusted_private_chat", invite=[bob.user_id], is_direct=True
    )
    await bob.join(dm)
    await send(alice, dm, ciphertext, "m.room.encrypted")
    assert await counts(bob, dm) == (1, 0)
    notes = (await bob.ok("GET", "/notifications"))["notifications"]
    assert notes[0]["actions"] == ["notify", {"set_tweak": "sound", "value": "default"}]
    assert notes[0]["event"]["type"] == "m.room.encrypted"


async def test_messages_sent_while_away_do_not_count_after_rejoining(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    await alice.send(room, "before")
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    await alice.send(room, "while away")
    await bob.join(room)
    await alice.send(room, "after")
    assert await counts(bob, room) == (1, 0)
    bodies = [
        n["event"]["content"]["body"]
        for n in (await bob.ok("GET", "/notifications"))["notifications"]
    ]
    assert bodies == ["after", "before"]


async def test_notifications_list_newest_first_paged_with_read_flags(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    sent = [await alice.send(room, f"m{i}") for i in range(5)]
    await send(
        alice, room, {"msgtype": "m.text", "body": "hey", "m.mentions": {"user_ids": [bob.user_id]}}
    )
    await read(bob, room, sent[1])

    page = await bob.ok("GET", "/notifications", params={"limit": "4"})
    assert [n["event"]["content"]["body"] for n in page["notifications"]] == [
        "hey",
        "m4",
        "m3",
        "m2",
    ]
    first = page["notifications"][0]
    assert first["room_id"] == room
    assert first["actions"][-1] == {"set_tweak": "highlight"}
    assert first["read"] is False
    assert isinstance(first["ts"], int)
    assert "room_id" not in first["event"]
    rest = await bob.ok("GET", "/notifications", params={"limit": "4", "from": page["next_token"]})
    assert [(n["event"]["content"]["body"], n["read"]) for n in rest["notifications"]] == [
        ("m1", True),
        ("m0", True),
    ]
    assert "next_token" not in rest
    highlights = await bob.ok("GET", "/notifications", params={"only": "highlight"})
    assert [n["event"]["content"]["body"] for n in highlights["notifications"]] == ["hey"]
    assert (await alice.ok("GET", "/notifications"))["notifications"] == []


async def test_an_invite_is_a_notification_for_the_invitee(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat")
    await alice.invite(room, bob.user_id)
    notes = (await bob.ok("GET", "/notifications"))["notifications"]
    assert len(notes) == 1
    assert notes[0]["event"]["type"] == "m.room.member"
    assert notes[0]["event"]["state_key"] == bob.user_id
    assert notes[0]["actions"] == ["notify", {"set_tweak": "sound", "value": "default"}]


@pytest.mark.parametrize(
    "params",
    [{"from": "x"}, {"from": "-1"}, {"limit": "0"}, {"limit": "many"}],
)
async def test_bad_notification_queries_are_refused(
    alice: MatrixTestClient, params: dict[str, str]
) -> None:
    r = await alice.request("GET", "/notifications", params=params)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_PARAM"


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.sqlalchemy_url())
    yield database
    await database.dispose()


async def test_the_count_stops_at_its_cap_so_sync_cost_stays_bounded(db: Database) -> None:
    room, bob = "!r:test.local", "@bob:test.local"
    async with db.write() as conn:
        await conn.execute(
            insert(PushMembership).values(user_id=bob, room_id=room, joined_pos=0, left_pos=None)
        )
        await conn.execute(
            insert(NotificationEvent),
            [
                {
                    "stream_pos": pos,
                    "room_id": room,
                    "sender": "@a:x",
                    "highlight": True,
                    "actions": "[]",
                }
                for pos in range(1, counting.MAX_COUNT + 6)
            ],
        )
    async with db.read() as conn:
        unread = await counting.count_unread(conn, room, bob)
    assert unread.total() == (counting.MAX_COUNT, counting.MAX_COUNT)


async def test_a_failed_items_notifications_are_rolled_back_with_it(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await group(alice, bob, carol)
    persister = http._transport.app.state.homeserver.persister  # type: ignore[attr-defined]

    async def good(ctx: WriteContext) -> None:
        await ctx.append(NewEvent(room, "m.room.message", alice.user_id, {"body": "kept"}))

    async def bad(ctx: WriteContext) -> None:
        await ctx.append(NewEvent(room, "m.room.message", alice.user_id, {"body": "gone"}))
        raise Forbidden("refused after writing")

    batches = persister.batches
    outcomes = await asyncio.gather(persister.run(good), persister.run(bad), return_exceptions=True)
    assert persister.batches == batches + 1  # one batch: the savepoint path
    assert outcomes[0] is None
    assert isinstance(outcomes[1], Forbidden)
    assert await counts(bob, room) == (1, 0)
    notes = (await bob.ok("GET", "/notifications"))["notifications"]
    assert [n["event"]["content"]["body"] for n in notes] == ["kept"]
