"""Edits in search (issue 18): a message is found by what it says now, and the edit event
itself is never a result."""

import httpx

from tests.helpers.matrix import MatrixTestClient


async def _search(client: MatrixTestClient, term: str) -> list[str]:
    body = {"search_categories": {"room_events": {"search_term": term, "order_by": "recent"}}}
    got = await client.ok("POST", "/search", json=body)
    return [r["result"]["event_id"] for r in got["search_categories"]["room_events"]["results"]]


async def _edit(client: MatrixTestClient, room: str, target: str, words: str, txn: str) -> str:
    content = {
        "msgtype": "m.text",
        "body": f"* {words}",
        "m.new_content": {"msgtype": "m.text", "body": words},
        "m.relates_to": {"rel_type": "m.replace", "event_id": target},
    }
    sent = await client.ok("PUT", f"/rooms/{room}/send/m.room.message/{txn}", json=content)
    event_id: str = sent["event_id"]
    return event_id


async def test_an_edited_message_is_found_by_its_new_words_only(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    original = await alice.send(room, "meet on friday for croissants")
    await _edit(alice, room, original, "meet on saturday for croissants", "e1")
    assert await _search(bob, "saturday") == [original]
    assert await _search(bob, "friday") == []
    assert await _search(bob, "croissants") == [original]


async def test_an_edit_by_someone_else_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    original = await alice.send(room, "the plan is tea")
    await _edit(bob, room, original, "the plan is coffee", "e2")
    assert await _search(alice, "tea") == [original]
    assert await _search(alice, "coffee") == []


async def test_redacting_an_edit_takes_its_words_back(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """Words someone took back by redacting the edit that added them are not found: the
    original goes back to its newest edit still standing, or to its own words."""
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    original = await alice.send(room, "dinner at eight")
    first = await _edit(alice, room, original, "dinner at nine", "r1")
    second = await _edit(alice, room, original, "dinner at my secret address", "r2")
    assert await _search(bob, "secret") == [original]

    await alice.ok("PUT", f"/rooms/{room}/redact/{second}/x1", json={})
    assert await _search(bob, "secret") == []
    assert await _search(bob, "nine") == [original]

    await alice.ok("PUT", f"/rooms/{room}/redact/{first}/x2", json={})
    assert await _search(bob, "nine") == []
    assert await _search(bob, "eight") == [original]
    assert await _search(bob, "dinner") == [original]
