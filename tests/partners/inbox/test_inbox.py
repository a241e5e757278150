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
