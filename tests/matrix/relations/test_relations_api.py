"""GET /relations, GET /threads and bundled aggregations, over HTTP on both engines.

Every response is also checked against the spec's OpenAPI by the `http` fixture.
"""

import itertools
from typing import Any

import httpx

from tests.helpers.matrix import MatrixTestClient

V1 = "/_matrix/client/v1"
_txn = itertools.count()


async def _send(
    user: MatrixTestClient, room: str, content: dict[str, Any], ev_type: str = "m.room.message"
) -> str:
    r = await user.ok("PUT", f"/rooms/{room}/send/{ev_type}/rel{next(_txn)}", json=content)
    event_id: str = r["event_id"]
    return event_id


def _rel(rel_type: str, parent: str, **extra: Any) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


async def _edit(user: MatrixTestClient, room: str, parent: str, body: str) -> str:
    return await _send(
        user,
        room,
        {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            **_rel("m.replace", parent),
        },
    )


async def _react(user: MatrixTestClient, room: str, parent: str, key: str) -> str:
    return await _send(user, room, _rel("m.annotation", parent, key=key), "m.reaction")


async def _reply_in_thread(user: MatrixTestClient, room: str, root: str, body: str) -> str:
    return await _send(
        user,
        room,
        {
            "msgtype": "m.text",
            "body": body,
            **_rel("m.thread", root, is_falling_back=True, **{"m.in_reply_to": {"event_id": root}}),
        },
    )


async def _v1(user: MatrixTestClient, path: str, **params: Any) -> httpx.Response:
    return await user.http.get(f"{V1}{path}", headers=user.headers, params=params)


async def _ok(user: MatrixTestClient, path: str, **params: Any) -> Any:
    r = await _v1(user, path, **params)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(body: Any) -> list[str]:
    return [e["event_id"] for e in body["chunk"]]


async def _shared_room(alice: MatrixTestClient, bob: MatrixTestClient) -> str:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    return room


# --- /relations ---------------------------------------------------------------------------


async def test_relations_lists_children_newest_first_with_filters(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    root = await alice.send(room, "hello")
    thumbs = await _react(bob, room, root, "👍")
    edit = await _edit(alice, room, root, "hello!")
    reply = await _reply_in_thread(bob, room, root, "in thread")
    ref = await _send(bob, room, {"msgtype": "m.text", "body": "see", **_rel("m.reference", root)})
    await alice.send(room, "unrelated")

    body = await _ok(alice, f"/rooms/{room}/relations/{root}")
    assert _ids(body) == [ref, reply, edit, thumbs]
    assert "next_batch" not in body
    assert "recursion_depth" not in body
    assert _ids(await _ok(alice, f"/rooms/{room}/relations/{root}/m.annotation")) == [thumbs]
    assert _ids(await _ok(alice, f"/rooms/{room}/relations/{root}/m.thread")) == [reply]
    typed = await _ok(alice, f"/rooms/{room}/relations/{root}/m.annotation/m.reaction")
    assert _ids(typed) == [thumbs]
    wrong_type = await _ok(alice, f"/rooms/{room}/relations/{root}/m.annotation/m.room.message")
    assert wrong_type["chunk"] == []
    assert (await _ok(alice, f"/rooms/{room}/relations/{thumbs}"))["chunk"] == []
    # recurse=false is the default, and says so.
    direct = await _ok(alice, f"/rooms/{room}/relations/{root}", recurse="false")
    assert _ids(direct) == [ref, reply, edit, thumbs]
    assert direct["recursion_depth"] == 1


async def test_recurse_lists_descendants_three_levels_deep(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    root = await alice.send(room, "root")
    reply = await _reply_in_thread(bob, room, root, "level 1")
    on_reply = await _react(alice, room, reply, "👍")  # level 2
    edit = await _edit(bob, room, reply, "level 1, edited")  # level 2
    on_edit = await _react(alice, room, edit, "🎉")  # level 3
    too_deep = await _react(bob, room, on_edit, "🙃")  # level 4: past the depth
    elsewhere = await alice.send(room, "unrelated")
    await _react(bob, room, elsewhere, "👍")

    body = await _ok(alice, f"/rooms/{room}/relations/{root}", recurse="true")
    assert _ids(body) == [on_edit, edit, on_reply, reply]
    assert too_deep not in _ids(body)
    assert body["recursion_depth"] == 3
    # The filters apply at every level, and pages follow the same order.
    reactions = await _ok(alice, f"/rooms/{room}/relations/{root}/m.annotation", recurse="true")
    assert _ids(reactions) == [on_edit, on_reply]
    first = await _ok(alice, f"/rooms/{room}/relations/{root}", recurse="true", limit=3)
    assert _ids(first) == [on_edit, edit, on_reply]
    rest = await _ok(
        alice,
        f"/rooms/{room}/relations/{root}",
        recurse="true",
        limit=3,
        **{"from": first["next_batch"]},
    )
    assert _ids(rest) == [reply]
    assert _ids(await _ok(alice, f"/rooms/{room}/relations/{root}", recurse="true", dir="f")) == [
        reply,
        on_reply,
        edit,
        on_edit,
    ]


async def test_relations_paginate_both_directions(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    root = await alice.send(room, "root")
    reactions = [await _react(alice, room, root, str(i)) for i in range(5)]

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await _ok(alice, f"/rooms/{room}/relations/{root}", **params)
        assert len(page["chunk"]) <= 2
        seen += _ids(page)
        if "next_batch" not in page:
            break
        params["from"] = page["next_batch"]
    assert seen == list(reversed(reactions))

    seen = []
    params = {"limit": 2, "dir": "f"}
    while True:
        page = await _ok(alice, f"/rooms/{room}/relations/{root}", **params)
        seen += _ids(page)
        if "next_batch" not in page:
            break
        params["from"] = page["next_batch"]
    assert seen == reactions

    # `to` bounds a page: from the newest back to (not including) the second reaction.
    first = await _ok(alice, f"/rooms/{room}/relations/{root}", limit=2, dir="f")
    bounded = await _ok(alice, f"/rooms/{room}/relations/{root}", to=first["next_batch"])
    assert _ids(bounded) == list(reversed(reactions[2:]))


async def test_relations_of_encrypted_events_are_indexed(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    root = await alice.send(room, "root")
    enc = await _send(
        alice,
        room,
        {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAA", **_rel("m.thread", root)},
        "m.room.encrypted",
    )
    body = await _ok(alice, f"/rooms/{room}/relations/{root}/m.thread/m.room.encrypted")
    assert _ids(body) == [enc]


async def test_redacted_child_is_dropped(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    room = await _shared_room(alice, bob)
    root = await alice.send(room, "root")
    keep = await _react(bob, room, root, "a")
    gone = await _react(bob, room, root, "b")
    reply = await _reply_in_thread(bob, room, root, "r1")
    await bob.ok("PUT", f"/rooms/{room}/redact/{gone}/x1", json={})
    await bob.ok("PUT", f"/rooms/{room}/redact/{reply}/x2", json={})
    assert _ids(await _ok(alice, f"/rooms/{room}/relations/{root}")) == [keep]
    ev = await alice.ok("GET", f"/rooms/{room}/event/{root}")
    assert "m.relations" not in ev["unsigned"]  # the thread's only reply is gone
    assert (await _ok(alice, f"/rooms/{room}/threads"))["chunk"] == []


async def test_relations_not_visible_is_404(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room()  # private: carol is never in it
    root = await alice.send(room, "secret")
    await _react(alice, room, root, "x")
    r = await _v1(carol, f"/rooms/{room}/relations/{root}")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await _v1(alice, f"/rooms/{room}/relations/$nosuchevent")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    other = await alice.create_room()
    r = await _v1(alice, f"/rooms/{other}/relations/{root}")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    # Joined-history visibility: bob joins later and may not see the root.
    await alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.history_visibility/",
        json={"history_visibility": "joined"},
    )
    hidden = await alice.send(room, "before bob")
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    r = await _v1(bob, f"/rooms/{room}/relations/{hidden}")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await _v1(carol, f"/rooms/{room}/threads")
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_invalid_params_are_400(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    root = await alice.send(room, "root")
    for params in ({"dir": "x"}, {"limit": "abc"}, {"limit": 0}, {"from": "garbage"}, {"to": "zz"}):
        r = await _v1(alice, f"/rooms/{room}/relations/{root}", **params)
        assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM"), params
    for params in ({"include": "some"}, {"limit": -1}, {"from": "nope"}):
        r = await _v1(alice, f"/rooms/{room}/threads", **params)
        assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM"), params
    r = await _v1(alice, f"/rooms/{room}/relations/not-an-event")
    assert r.status_code == 400


# --- /threads -----------------------------------------------------------------------------


async def test_threads_list_all_and_participated(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    t1 = await alice.send(room, "thread one")
    t2 = await bob.send(room, "thread two")
    t3 = await bob.send(room, "thread three")
    await _reply_in_thread(bob, room, t1, "bob in one")
    await _reply_in_thread(bob, room, t2, "bob in two")
    await _reply_in_thread(bob, room, t3, "bob in three")
    await _reply_in_thread(alice, room, t2, "alice in two")

    all_threads = await _ok(alice, f"/rooms/{room}/threads")
    assert _ids(all_threads) == [t2, t3, t1]
    bundle = all_threads["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert bundle["count"] == 2
    assert bundle["current_user_participated"] is True
    assert bundle["latest_event"]["content"]["body"] == "alice in two"
    mine = await _ok(alice, f"/rooms/{room}/threads", include="participated")
    assert _ids(mine) == [t2, t1]  # t1: alice started it; t2: she replied

    page1 = await _ok(alice, f"/rooms/{room}/threads", limit=2)
    assert _ids(page1) == [t2, t3]
    page2 = await _ok(alice, f"/rooms/{room}/threads", limit=2, **{"from": page1["next_batch"]})
    assert _ids(page2) == [t1]
    assert "next_batch" not in page2


# --- bundled aggregations -------------------------------------------------------------------


async def test_bundles_in_event_messages_and_sync(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    since = (await bob.sync(timeout=0))["next_batch"]
    root = await alice.send(room, "original")
    await _edit(alice, room, root, "first edit")
    last_edit = await _edit(alice, room, root, "second edit")
    await _edit(bob, room, root, "not alice's: ignored")
    await _react(bob, room, root, "👍")
    ref = await _send(bob, room, {"msgtype": "m.text", "body": "ref", **_rel("m.reference", root)})
    reply = await _reply_in_thread(bob, room, root, "reply")
    reply_edit = await _edit(bob, room, reply, "reply, edited")

    def check(ev: dict[str, Any], participated: bool) -> None:
        rel = ev["unsigned"]["m.relations"]
        assert rel["m.replace"]["event_id"] == last_edit
        assert ev["content"]["body"] == "original"  # content is not rewritten
        assert rel["m.reference"] == {"chunk": [{"event_id": ref}]}
        assert "m.annotation" not in rel
        thread = rel["m.thread"]
        assert thread["count"] == 1
        assert thread["current_user_participated"] is participated
        assert thread["latest_event"]["event_id"] == reply
        latest_rel = thread["latest_event"]["unsigned"]["m.relations"]
        assert latest_rel["m.replace"]["event_id"] == reply_edit

    check(await alice.ok("GET", f"/rooms/{room}/event/{root}"), True)
    check(await bob.ok("GET", f"/rooms/{room}/event/{root}"), True)  # bob replied
    messages = await alice.messages(room, limit=20)
    (served,) = [e for e in messages["chunk"] if e["event_id"] == root]
    check(served, True)
    for body in ((await bob.sync(since, timeout=0)), (await bob.sync(timeout=0))):
        timeline = body["rooms"]["join"][room]["timeline"]["events"]
        (in_sync,) = [e for e in timeline if e["event_id"] == root]
        check(in_sync, True)


async def test_edit_of_redacted_original_is_not_bundled(alice: MatrixTestClient) -> None:
    room = await alice.create_room()
    root = await alice.send(room, "original")
    await _edit(alice, room, root, "edited")
    assert (
        "m.replace"
        in (await alice.ok("GET", f"/rooms/{room}/event/{root}"))["unsigned"]["m.relations"]
    )
    await alice.ok("PUT", f"/rooms/{room}/redact/{root}/red1", json={})
    ev = await alice.ok("GET", f"/rooms/{room}/event/{root}")
    assert "m.replace" not in ev["unsigned"].get("m.relations", {})


async def test_other_rooms_children_are_ignored(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room()
    root = await alice.send(room, "root")
    elsewhere = await bob.create_room()
    await _react(bob, elsewhere, root, "sneaky")
    await _reply_in_thread(bob, elsewhere, root, "sneaky thread")
    assert (await _ok(alice, f"/rooms/{room}/relations/{root}"))["chunk"] == []
    ev = await alice.ok("GET", f"/rooms/{room}/event/{root}")
    assert "m.relations" not in ev["unsigned"]


async def test_redacting_the_latest_reply_moves_the_thread_back(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    root = await alice.send(room, "root")
    first = await _reply_in_thread(bob, room, root, "first")
    second = await _reply_in_thread(bob, room, root, "second")
    thread = (await alice.ok("GET", f"/rooms/{room}/event/{root}"))["unsigned"]["m.relations"][
        "m.thread"
    ]
    assert thread["latest_event"]["event_id"] == second
    assert thread["count"] == 2
    assert thread["current_user_participated"] is True  # alice sent the root
    await bob.ok("PUT", f"/rooms/{room}/redact/{second}/y1", json={})
    thread = (await alice.ok("GET", f"/rooms/{room}/event/{root}"))["unsigned"]["m.relations"][
        "m.thread"
    ]
    assert thread["latest_event"]["event_id"] == first
    assert thread["count"] == 1
    assert _ids(await _ok(alice, f"/rooms/{room}/threads")) == [root]


async def test_edits_by_others_or_of_state_are_not_bundled(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await _shared_room(alice, bob)
    root = await alice.send(room, "original")
    await _edit(bob, room, root, "bob may not edit alice's message")
    ev = await alice.ok("GET", f"/rooms/{room}/event/{root}")
    assert "m.relations" not in ev["unsigned"]
    topic = await alice.ok("PUT", f"/rooms/{room}/state/m.room.topic/", json={"topic": "t"})
    await _edit(alice, room, topic["event_id"], "an edit of a state event")
    ev = await alice.ok("GET", f"/rooms/{room}/event/{topic['event_id']}")
    assert "m.relations" not in ev["unsigned"]
    # Still listed by /relations: the index keeps every relation, bundles apply the rules.
    assert len((await _ok(alice, f"/rooms/{room}/relations/{root}/m.replace"))["chunk"]) == 1
