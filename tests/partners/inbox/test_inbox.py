"""The Inbox API on both engines: only rooms every member agreed to share, only inside the
grant's window, and every read recorded in the transparency log before it leaves."""

from candor.transparency.records import ActorKind
from tests.partners.inbox.conftest import Scene, make_app, token_for


def bodies(response_json: dict[str, object]) -> list[str]:
    chunk = response_json["chunk"]
    assert isinstance(chunk, list)
    return [e["content"].get("body", "") for e in chunk if e["type"] == "m.room.message"]


async def test_a_live_grant_serves_messages_from_when_it_went_live_and_logs_the_read(
    scene: Scene,
) -> None:
    await scene.alice.send(scene.room, "before the grant")
    grant_id = await scene.grant()
    await scene.bob.send(scene.room, "after 1")
    await scene.carol.send(scene.room, "after 2")
    before = len(await scene.records())

    listed = await scene.get("/rooms")
    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert listed.status_code == 200, listed.text
    (room,) = listed.json()["rooms"]
    assert (room["room_id"], room["grant_id"]) == (scene.room, grant_id)
    assert sorted(room["members"]) == sorted(
        [scene.alice.user_id, scene.bob.user_id, scene.carol.user_id]
    )
    assert read.status_code == 200, read.text
    assert bodies(read.json()) == ["after 1", "after 2"]
    records = await scene.records()
    assert len(records) == before + 2  # the list, then the read: one record each
    newest = records[0].record
    assert newest["actor"] == {"kind": ActorKind.PARTNER_APP.value, "id": scene.app.client_id}
    assert newest["basis"] == f"grant {grant_id}"
    assert newest["subjects"] == sorted(
        [scene.alice.user_id, scene.bob.user_id, scene.carol.user_id]
    )
    assert newest["resource"]["room_id"] == scene.room
    assert newest["resource"]["count"] == 2
    assert read.json()["log_index"] == records[0].index
    # bob and carol see the same record on their pages.
    assert (await scene.records(scene.bob))[0].index == records[0].index


async def test_history_is_included_only_when_every_member_ticked_it(scene: Scene) -> None:
    await scene.alice.send(scene.room, "old news")
    await scene.grant(history=True)

    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert "old news" in bodies(read.json())


async def test_pages_follow_next_from(scene: Scene) -> None:
    await scene.grant()
    for i in range(5):
        await scene.alice.send(scene.room, f"m{i}")

    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        page = (await scene.get(f"/rooms/{scene.room}/messages", params=params)).json()
        seen += bodies(page)
        if "next_from" not in page:
            break
        params = {"limit": 2, "from": page["next_from"]}

    assert seen == [f"m{i}" for i in range(5)]


async def test_an_app_with_every_scope_and_no_grant_sees_nothing_and_logs_nothing(
    scene: Scene,
) -> None:
    await scene.alice.send(scene.room, "private")
    before = len(await scene.records())

    listed = await scene.get("/rooms")
    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert listed.json()["rooms"] == []
    assert read.status_code == 404
    assert read.json()["errcode"] == "CANDOR_NOT_FOUND"
    assert len(await scene.records()) == before


async def test_a_membership_change_ends_the_read_at_once(scene: Scene) -> None:
    await scene.grant()
    await scene.alice.send(scene.room, "seen")
    dave = await scene.env.web.matrix_user("dave")
    await dave.join(scene.room)
    await scene.alice.send(scene.room, "after dave joined")

    listed = await scene.get("/rooms")
    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert listed.json()["rooms"] == []
    assert read.status_code == 404


async def test_a_token_without_inbox_read_is_refused(scene: Scene) -> None:
    await scene.grant()
    profile_only = await token_for(scene.env, scene.app, "bob", "profile")

    r = await scene.get("/rooms", token=profile_only)

    assert r.status_code == 403
    assert r.json()["errcode"] == "CANDOR_INSUFFICIENT_SCOPE"


async def test_another_app_sees_nothing_of_this_grant(scene: Scene) -> None:
    await scene.grant()
    await scene.alice.send(scene.room, "for StreamFlix only")
    other = await make_app(scene.env, "profile inbox.read")
    other_token = await token_for(scene.env, other, "bob", "profile inbox.read")

    assert (await scene.get("/rooms", token=other_token)).json()["rooms"] == []
    assert (await scene.get(f"/rooms/{scene.room}/messages", token=other_token)).status_code == 404


async def test_when_the_log_cannot_record_the_read_nothing_leaves(scene: Scene) -> None:
    await scene.grant()
    await scene.alice.send(scene.room, "must not leak")
    await scene.env.web.hs.tlog.stop()

    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert read.status_code == 503
    assert read.json()["errcode"] == "CANDOR_LOG_UNAVAILABLE"
    assert "must not leak" not in read.text
    assert "chunk" not in read.json()


async def test_a_live_grant_with_nothing_new_returns_nothing_and_logs_nothing(
    scene: Scene,
) -> None:
    await scene.alice.send(scene.room, "before")
    await scene.grant()
    before = len(await scene.records())

    read = await scene.get(f"/rooms/{scene.room}/messages")

    assert read.status_code == 200
    assert bodies(read.json()) == []
    assert read.json()["log_index"] is None
    assert len(await scene.records()) == before


# --- issue 13 item 1: people who left were never asked -------------------------------------


async def test_a_former_members_messages_are_withheld_and_the_read_names_them(
    scene: Scene,
) -> None:
    """bob writes and leaves; alice and carol share the room with its history. The app
    reads alice's and carol's words, never bob's, and bob sees the read on his page."""
    await scene.alice.send(scene.room, "alice before")
    await scene.bob.send(scene.room, "bob's words")
    await scene.bob.request("POST", f"/rooms/{scene.room}/leave", json={})
    r = await scene.api.post(
        f"/_candor/v1/rooms/{scene.room}/grants",
        json={"client_id": scene.app.client_id, "include_history": True},
        headers=scene.alice.headers,
    )
    assert r.status_code == 200, r.text
    grant_id = r.json()["grant_id"]
    r = await scene.api.post(
        f"/_candor/v1/grants/{grant_id}/accept",
        json={"include_history": True},
        headers=scene.carol.headers,
    )
    assert r.json()["status"] == "live"
    await scene.carol.send(scene.room, "carol after")

    read = await scene.get(f"/rooms/{scene.room}/messages", params={"limit": 100})

    assert read.status_code == 200, read.text
    chunk = read.json()["chunk"]
    assert "bob's words" not in read.text
    assert {e["sender"] for e in chunk} <= {scene.alice.user_id, scene.carol.user_id}
    assert {"alice before", "carol after"} <= set(bodies(read.json()))
    (record, *_) = await scene.records(scene.bob)
    assert record.record["action"] == "partner.read_room_messages"
    assert record.index == read.json()["log_index"]
    assert scene.bob.user_id in record.record["subjects"]
    assert {scene.alice.user_id, scene.carol.user_id} <= set(record.record["subjects"])
    assert record.record["resource"]["withheld"] >= 1
    assert record.record["resource"]["count"] == len(chunk)


async def test_a_page_of_withheld_events_returns_none_but_pages_on(scene: Scene) -> None:
    await scene.bob.send(scene.room, "bob 1")
    await scene.bob.send(scene.room, "bob 2")
    await scene.bob.request("POST", f"/rooms/{scene.room}/leave", json={})
    r = await scene.api.post(
        f"/_candor/v1/rooms/{scene.room}/grants",
        json={"client_id": scene.app.client_id, "include_history": True},
        headers=scene.alice.headers,
    )
    grant_id = r.json()["grant_id"]
    await scene.api.post(
        f"/_candor/v1/grants/{grant_id}/accept",
        json={"include_history": True},
        headers=scene.carol.headers,
    )
    seen: list[str] = []
    position, pages, before = 0, 0, len(await scene.records(scene.bob))
    while True:
        page = await scene.get(
            f"/rooms/{scene.room}/messages", params={"from": position, "limit": 1}
        )
        assert page.status_code == 200, page.text
        seen += bodies(page.json())
        pages += 1
        if "next_from" not in page.json():
            break
        position = page.json()["next_from"]

    assert not {"bob 1", "bob 2"} & set(seen)
    assert pages > 3
    # Only pages that released something were recorded (bob's alone: nothing left).
    assert len(await scene.records(scene.bob)) - before < pages


# --- issue 13 item 3: a real read before and after -----------------------------------------


async def test_a_new_agreement_version_ends_the_reads_until_everyone_accepts_again(
    scene: Scene,
) -> None:
    await scene.grant()
    await scene.bob.send(scene.room, "under version 1")
    assert "under version 1" in (await scene.get(f"/rooms/{scene.room}/messages")).text
    app = await scene.env.apps.get(scene.app.client_id)

    await scene.env.apps.new_agreement(
        scene.app.client_id, app.agreement.revised("New purpose", "More")
    )
    fresh = await token_for(scene.env, scene.app, "alice", "profile inbox.read")
    before = len(await scene.records())

    for token in (scene.token, fresh):
        read = await scene.get(f"/rooms/{scene.room}/messages", token=token)
        assert read.status_code in (401, 404), read.text
        assert "chunk" not in read.json()
    assert len(await scene.records()) == before
    await scene.grant()  # everyone is asked again, and accepts
    await scene.bob.send(scene.room, "under version 2")
    read = await scene.get(f"/rooms/{scene.room}/messages", token=fresh)
    assert read.status_code == 200, read.text
    assert bodies(read.json()) == ["under version 2"]


async def test_suspension_ends_the_reads_and_reapproval_does_not_revive_them(
    scene: Scene,
) -> None:
    await scene.grant()
    await scene.bob.send(scene.room, "before the suspension")
    assert "before the suspension" in (await scene.get(f"/rooms/{scene.room}/messages")).text

    await scene.env.apps.suspend(scene.app.client_id)
    await scene.env.apps.approve(scene.app.client_id)
    fresh = await token_for(scene.env, scene.app, "alice", "profile inbox.read")
    before = len(await scene.records())

    read = await scene.get(f"/rooms/{scene.room}/messages", token=fresh)
    listed = await scene.get("/rooms", token=fresh)

    assert read.status_code == 404, read.text
    assert listed.json()["rooms"] == []
    assert len(await scene.records()) == before
