"""POST /search over HTTP on both engines: ranking and recency, paging, context, groups,
highlights, state, filters, history visibility, encryption, redaction and bad bodies."""

from typing import Any

import httpx

from tests.helpers.matrix import V3, MatrixTestClient


async def _search(
    client: MatrixTestClient, term: str, next_batch: str | None = None, **criteria: Any
) -> Any:
    params = {"next_batch": next_batch} if next_batch is not None else {}
    body = {"search_categories": {"room_events": {"search_term": term, **criteria}}}
    r = await client.request("POST", "/search", json=body, params=params)
    assert r.status_code == 200, r.text
    return r.json()["search_categories"]["room_events"]


async def _room(client: MatrixTestClient, **body: Any) -> str:
    """A room without encryption (private rooms are encrypted by default)."""
    return await client.create_room(preset="public_chat", **body)


def _bodies(found: Any) -> list[str]:
    return [r["result"]["content"].get("body") for r in found["results"]]


async def test_finds_messages_by_word_with_stemming(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    await alice.send(room, "The martians are landing")
    await alice.send(room, "nothing to see here")
    found = await _search(alice, "martian")
    assert _bodies(found) == ["The martians are landing"]
    assert found["count"] == 1
    assert "martian" in found["highlights"]
    result = found["results"][0]["result"]
    assert result["room_id"] == room
    assert result["type"] == "m.room.message"
    assert result["unsigned"]["age"] >= 0
    assert found["results"][0]["rank"] > 0


async def test_rank_orders_by_relevance_and_recent_by_time(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    await alice.send(room, "apple apple apple apple pie")
    await alice.send(room, "an apple and a long sentence about other things entirely")
    ranked = await _search(alice, "apple", order_by="rank")
    assert _bodies(ranked)[0] == "apple apple apple apple pie"
    assert ranked["results"][0]["rank"] >= ranked["results"][1]["rank"]
    recent = await _search(alice, "apple", order_by="recent")
    assert _bodies(recent)[0].startswith("an apple")


async def test_words_phrases_exclusions_and_or(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    for body in ("red green", "green red", "red blue", "yellow"):
        await alice.send(room, body)
    assert sorted(_bodies(await _search(alice, "red green"))) == ["green red", "red green"]
    assert _bodies(await _search(alice, '"red green"')) == ["red green"]
    assert _bodies(await _search(alice, "red -green")) == ["red blue"]
    assert sorted(_bodies(await _search(alice, "yellow or blue"))) == ["red blue", "yellow"]
    # Operators and quotes of FTS5 or tsquery syntax are words or nothing here (PostgreSQL
    # drops "not" and "and" as stop words, FTS5 requires them).
    odd = await _search(alice, 'NOT "red" AND ( ) * : & | ! NEAR(red) red*')
    assert all("red" in body for body in _bodies(odd))
    assert (await _search(alice, "   "))["results"] == []


async def test_room_name_and_topic_keys(alice: MatrixTestClient) -> None:
    room = await _room(alice, name="Gardening club", topic="tomatoes all year")
    await alice.send(room, "I love gardening")
    found = await _search(alice, "gardening", keys=["content.name"])
    assert [r["result"]["type"] for r in found["results"]] == ["m.room.name"]
    found = await _search(alice, "tomatoes")
    assert [r["result"]["type"] for r in found["results"]] == ["m.room.topic"]
    found = await _search(alice, "gardening", keys=["content.body"])
    assert _bodies(found) == ["I love gardening"]


async def test_pagination_with_next_batch_in_both_orders(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    for i in range(7):
        await alice.send(room, f"needle number {i}")
    for order in ("recent", "rank"):
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = await _search(alice, "needle", token, order_by=order, filter={"limit": 3})
            pages += 1
            assert page["count"] == 7
            seen += _bodies(page)
            token = page.get("next_batch")
            if token is None:
                break
        assert pages == 3
        assert sorted(seen) == sorted(f"needle number {i}" for i in range(7))
        if order == "recent":
            assert seen == [f"needle number {i}" for i in reversed(range(7))]


async def test_bad_next_batch_is_400(alice: MatrixTestClient) -> None:
    body = {"search_categories": {"room_events": {"search_term": "x"}}}
    for token in ("bogus", "p12", "r", "r-1", "r99999999999999999999"):
        r = await alice.request("POST", "/search", json=body, params={"next_batch": token})
        assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM"), token


async def test_event_context_and_profile(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.member/{alice.user_id}",
        json={"membership": "join", "displayname": "Alice A"},
    )
    for body in ("one", "two", "target word", "three", "four"):
        await alice.send(room, body)
    found = await _search(
        alice,
        "target",
        event_context={"before_limit": 2, "after_limit": 1, "include_profile": True},
    )
    context = found["results"][0]["context"]
    assert [e["content"]["body"] for e in context["events_before"]] == ["two", "one"]
    assert [e["content"]["body"] for e in context["events_after"]] == ["three"]
    assert context["profile_info"][alice.user_id] == {"displayname": "Alice A"}
    # The tokens page /messages on from the context's edges.
    older = await alice.messages(room, dir="b", limit=1, **{"from": context["start"]})
    newer = await alice.messages(room, dir="f", limit=1, **{"from": context["end"]})
    assert [e["content"].get("body") for e in newer["chunk"]] == ["four"]
    assert older["chunk"][0]["content"].get("body") != "one"


async def test_groupings_and_state(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    first = await _room(alice, name="First")
    second = await _room(alice)
    await bob.join(second)
    await alice.send(first, "shared word a")
    await bob.send(second, "shared word b")
    await alice.send(second, "shared word c")
    found = await _search(
        alice,
        "shared",
        order_by="recent",
        include_state=True,
        groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]},
    )
    by_room = found["groups"]["room_id"]
    assert by_room[second]["order"] == 0
    assert by_room[first]["order"] == 1
    assert len(by_room[second]["results"]) == 2
    assert len(by_room[first]["results"]) == 1
    by_sender = found["groups"]["sender"]
    assert len(by_sender[alice.user_id]["results"]) == 2
    assert len(by_sender[bob.user_id]["results"]) == 1
    assert set(found["state"]) == {first, second}
    names = [e for e in found["state"][first] if e["type"] == "m.room.name"]
    assert names[0]["content"] == {"name": "First"}


async def test_filter_rooms_senders_types(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    room = await _room(alice, name="filter things")
    other = await _room(alice)
    await bob.join(room)
    await alice.send(room, "filter from alice")
    await bob.send(room, "filter from bob")
    await alice.send(other, "filter elsewhere")
    assert sorted(_bodies(await _search(alice, "filter", filter={"rooms": [other]}))) == [
        "filter elsewhere"
    ]
    assert len((await _search(alice, "filter", filter={"not_rooms": [other]}))["results"]) == 3
    assert _bodies(await _search(alice, "filter", filter={"senders": [bob.user_id]})) == [
        "filter from bob"
    ]
    found = await _search(alice, "filter", filter={"not_senders": [bob.user_id]})
    assert "filter from bob" not in _bodies(found)
    found = await _search(alice, "filter", filter={"types": ["m.room.name"]})
    assert [r["result"]["type"] for r in found["results"]] == ["m.room.name"]
    found = await _search(alice, "filter", filter={"not_types": ["m.room.*"]})
    assert found["results"] == []


async def test_only_the_searchers_rooms_and_visible_history(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await _room(alice)
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.history_visibility",
        json={"history_visibility": "joined"},
    )
    await alice.send(room, "secret before bob")
    await bob.join(room)
    await alice.send(room, "secret while bob is here")
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    await alice.send(room, "secret after bob left")
    assert _bodies(await _search(bob, "secret")) == ["secret while bob is here"]
    assert (await _search(bob, "secret"))["count"] == 1
    # Carol is in no room with these words (a public room she never joined included).
    assert (await _search(carol, "secret"))["results"] == []
    assert (await _search(carol, "secret"))["count"] == 0
    assert len((await _search(alice, "secret"))["results"]) == 3


async def test_encrypted_rooms_give_nothing(alice: MatrixTestClient) -> None:
    room = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    )
    await alice.ok(
        "PUT",
        f"/rooms/{room}/send/m.room.encrypted/e1",
        json={"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "opaque", "body": "plaintext"},
    )
    await alice.send(room, "plaintext sent anyway")
    assert (await _search(alice, "plaintext"))["results"] == []
    assert (await _search(alice, "opaque"))["results"] == []


async def test_redacted_event_disappears(alice: MatrixTestClient) -> None:
    room = await _room(alice)
    event_id = await alice.send(room, "regrettable words")
    await alice.send(room, "regrettable but fine")
    assert len((await _search(alice, "regrettable"))["results"]) == 2
    await alice.ok("PUT", f"/rooms/{room}/redact/{event_id}/r1", json={})
    assert _bodies(await _search(alice, "regrettable")) == ["regrettable but fine"]


async def test_invalid_bodies_are_400(http: httpx.AsyncClient, alice: MatrixTestClient) -> None:
    cases: list[tuple[Any, str]] = [
        ({}, "M_BAD_JSON"),
        ({"search_categories": []}, "M_BAD_JSON"),
        ({"search_categories": {"room_events": {}}}, "M_MISSING_PARAM"),
        ({"search_categories": {"room_events": {"search_term": 5}}}, "M_BAD_JSON"),
        ({"search_categories": {"people": {"search_term": "x"}}}, "M_INVALID_PARAM"),
        (
            {"search_categories": {"room_events": {"search_term": "x", "keys": ["content.x"]}}},
            "M_INVALID_PARAM",
        ),
        (
            {"search_categories": {"room_events": {"search_term": "x", "keys": "content.body"}}},
            "M_BAD_JSON",
        ),
        (
            {"search_categories": {"room_events": {"search_term": "x", "order_by": "best"}}},
            "M_INVALID_PARAM",
        ),
        (
            {"search_categories": {"room_events": {"search_term": "x", "filter": {"limit": -1}}}},
            "M_BAD_JSON",
        ),
        ({"search_categories": {"room_events": {"search_term": "x", "filter": []}}}, "M_BAD_JSON"),
        (
            {
                "search_categories": {
                    "room_events": {"search_term": "x", "event_context": {"before_limit": "5"}}
                }
            },
            "M_BAD_JSON",
        ),
        (
            {
                "search_categories": {
                    "room_events": {"search_term": "x", "event_context": {"after_limit": -2}}
                }
            },
            "M_INVALID_PARAM",
        ),
        (
            {
                "search_categories": {
                    "room_events": {
                        "search_term": "x",
                        "groupings": {"group_by": [{"key": "type"}]},
                    }
                }
            },
            "M_INVALID_PARAM",
        ),
        (
            {
                "search_categories": {
                    "room_events": {"search_term": "x", "groupings": {"group_by": "room_id"}}
                }
            },
            "M_BAD_JSON",
        ),
        (
            {"search_categories": {"room_events": {"search_term": "x", "include_state": 1}}},
            "M_BAD_JSON",
        ),
        ({"search_categories": {"room_events": {"search_term": "x" * 1001}}}, "M_INVALID_PARAM"),
    ]
    for body, errcode in cases:
        r = await alice.request("POST", "/search", json=body)
        assert (r.status_code, r.json().get("errcode")) == (400, errcode), body
    r = await alice.request("POST", "/search", content=b"[1]")
    assert r.status_code == 400
    r = await http.post(f"{V3}/search", json={"search_categories": {}})
    assert r.status_code == 401


async def test_no_category_is_an_empty_answer(alice: MatrixTestClient) -> None:
    assert await alice.ok("POST", "/search", json={"search_categories": {}}) == {
        "search_categories": {}
    }
