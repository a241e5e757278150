"""Every partner endpoint against every state of token, app and grant (issue 5's matrix), on both
engines: only the valid cases return a person's data, and each of those leaves exactly one
matching record in the transparency log; every other case returns nothing and logs nothing.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from tests.partners.inbox.conftest import Scene, token_for

DAY_S = 86_400


@dataclass
class Case:
    token: str  # "" = no token at all
    room: str
    valid: bool


async def live(scene: Scene, **kwargs: object) -> str:
    grant_id = await scene.grant()
    await scene.bob.send(scene.room, "inside the window")
    return grant_id


async def ask(scene: Scene) -> str:
    r = await scene.api.post(
        f"/_candor/v1/rooms/{scene.room}/grants",
        json={"client_id": scene.app.client_id},
        headers=scene.alice.headers,
    )
    assert r.status_code == 200, r.text
    grant_id: str = r.json()["grant_id"]
    return grant_id


async def answer(scene: Scene, who: str, grant_id: str, verb: str) -> None:
    member = {"bob": scene.bob, "carol": scene.carol, "alice": scene.alice}[who]
    r = await scene.api.post(f"/_candor/v1/grants/{grant_id}/{verb}", headers=member.headers)
    assert r.status_code == 200, r.text


async def valid(scene: Scene) -> Case:
    await live(scene)
    return Case(scene.token, scene.room, True)


async def no_token(scene: Scene) -> Case:
    await live(scene)
    return Case("", scene.room, False)


async def wrong_scope(scene: Scene) -> Case:
    await live(scene)
    return Case(await token_for(scene.env, scene.app, "alice", "profile"), scene.room, False)


async def another_persons_token(scene: Scene) -> Case:
    await live(scene)
    await scene.env.web.matrix_user("dave")
    dave = await token_for(scene.env, scene.app, "dave", "profile inbox.read")
    return Case(dave, scene.room, False)


async def app_suspended(scene: Scene) -> Case:
    await live(scene)
    await scene.env.apps.suspend(scene.app.client_id)
    return Case(scene.token, scene.room, False)


async def no_grant(scene: Scene) -> Case:
    await scene.bob.send(scene.room, "never shared")
    return Case(scene.token, scene.room, False)


async def grant_pending(scene: Scene) -> Case:
    grant_id = await ask(scene)
    await answer(scene, "bob", grant_id, "accept")  # carol has not answered
    await scene.bob.send(scene.room, "not yet")
    return Case(scene.token, scene.room, False)


async def grant_declined(scene: Scene) -> Case:
    grant_id = await ask(scene)
    await answer(scene, "bob", grant_id, "accept")
    await answer(scene, "carol", grant_id, "decline")
    await scene.bob.send(scene.room, "declined")
    return Case(scene.token, scene.room, False)


async def revoked(scene: Scene) -> Case:
    grant_id = await live(scene)
    await answer(scene, "carol", grant_id, "revoke")
    return Case(scene.token, scene.room, False)


async def voided_by_a_membership_change(scene: Scene) -> Case:
    await live(scene)
    await scene.carol.request("POST", f"/rooms/{scene.room}/leave", json={})
    return Case(scene.token, scene.room, False)


async def expired(scene: Scene) -> Case:
    await live(scene)
    scene.env.web.clock.advance(31 * DAY_S)  # the default grant is 30 days
    fresh = await token_for(scene.env, scene.app, "alice", "profile inbox.read")
    return Case(fresh, scene.room, False)


CASES: dict[str, Callable[[Scene], Awaitable[Case]]] = {
    f.__name__: f
    for f in (
        no_token,
        wrong_scope,
        another_persons_token,
        app_suspended,
        no_grant,
        grant_pending,
        grant_declined,
        revoked,
        voided_by_a_membership_change,
        expired,
        valid,
    )
}


@pytest.mark.parametrize("name", list(CASES))
async def test_only_a_valid_case_returns_data_and_it_is_logged_once_per_read(
    scene: Scene, name: str
) -> None:
    case = await CASES[name](scene)
    subjects = (scene.alice, scene.bob, scene.carol)
    before = [len(await scene.records(s)) for s in subjects]

    listed = await scene.get("/rooms", token=case.token)
    after_list = len(await scene.records())
    read = await scene.get(f"/rooms/{case.room}/messages", token=case.token)

    records = await scene.records()
    if case.valid:
        assert listed.status_code == 200, listed.text
        assert [r["room_id"] for r in listed.json()["rooms"]] == [case.room]
        assert read.status_code == 200, read.text
        assert "inside the window" in read.text
        assert after_list == before[0] + 1
        assert [len(await scene.records(s)) for s in subjects] == [n + 2 for n in before]
        assert [r.record["action"] for r in records[:2]] == [
            "partner.read_room_messages",
            "partner.list_rooms",
        ]
        assert all(r.record["actor"]["id"] == scene.app.client_id for r in records[:2])
        assert records[0].record["resource"]["room_id"] == case.room
    else:
        assert listed.status_code in (200, 401, 403), listed.text
        if listed.status_code == 200:
            assert listed.json()["rooms"] == []
        assert read.status_code in (401, 403, 404), read.text
        assert "chunk" not in read.json()
        assert [len(await scene.records(s)) for s in subjects] == before
