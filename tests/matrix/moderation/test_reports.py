"""Reporting content on both engines: events (joined and able to see it, else the same
404), rooms and users; the administrators' queue (admins only, never the content); and
reading a reported event, which leaves an access record naming its sender."""

from collections.abc import AsyncIterator

import pytest

from candor.config import RateLimitSettings, Settings
from tests.helpers.admin import AdminEnv, admin_env
from tests.helpers.matrix import MatrixTestClient

QUEUE = "/reports"


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[AdminEnv]:
    async with admin_env(settings) as env:
        yield env


async def report(who: MatrixTestClient, path: str, body: object) -> tuple[int, dict[str, object]]:
    r = await who.request("POST", path, json=body)
    return r.status_code, r.json()


async def test_each_kind_of_report_reaches_the_queue(env: AdminEnv) -> None:
    room = await env.alice.create_room(preset="public_chat")
    await env.bob.join(room)
    event = await env.alice.send(room, "buy my pills")

    assert await report(env.bob, f"/rooms/{room}/report/{event}", {"reason": "spam"}) == (200, {})
    assert await report(env.bob, f"/rooms/{room}/report/{event}", {}) == (200, {})
    # `score` was removed in 1.18: accepted and ignored.
    assert await report(env.bob, f"/rooms/{room}/report/{event}", {"score": -100}) == (200, {})
    assert await report(env.carol, f"/rooms/{room}/report", {"reason": ""}) == (200, {})
    assert await report(env.carol, f"/users/{env.alice.user_id}/report", {"reason": "rude"}) == (
        200,
        {},
    )

    r = await env.get(env.admin, QUEUE)
    assert r.status_code == 200, r.text
    reports = r.json()["reports"]
    assert [(x["kind"], x["reporter"]) for x in reports] == [
        ("event", env.bob.user_id),
        ("event", env.bob.user_id),
        ("event", env.bob.user_id),
        ("room", env.carol.user_id),
        ("user", env.carol.user_id),
    ]
    first = reports[0]
    assert first["room_id"] == room
    assert first["event_id"] == event
    assert first["user_id"] == env.alice.user_id  # the sender
    assert first["reason"] == "spam"
    assert first["status"] == "open"
    assert reports[3]["room_id"] == room
    assert "event_id" not in reports[3]
    assert reports[4]["user_id"] == env.alice.user_id
    # The queue never carries the reported content.
    assert "buy my pills" not in r.text


async def test_an_event_report_needs_a_joined_reporter_who_can_see_it(env: AdminEnv) -> None:
    room = await env.alice.create_room(preset="private_chat")
    event = await env.alice.send(room, "private words")
    public = await env.alice.create_room(preset="public_chat")
    await env.bob.join(public)

    outsider = await report(env.carol, f"/rooms/{room}/report/{event}", {"reason": "x"})
    unknown_event = await report(env.bob, f"/rooms/{public}/report/$nope", {"reason": "x"})
    wrong_room = await report(env.bob, f"/rooms/{public}/report/{event}", {"reason": "x"})
    unknown_room = await report(env.bob, f"/rooms/!nope:test.local/report/{event}", {})

    # All alike: a report does not tell whether the room or event exists.
    for status, body in (outsider, unknown_event, wrong_room, unknown_room):
        assert status == 404
        assert body["errcode"] == "M_NOT_FOUND"
    assert len({str(b["error"]) for _, b in (outsider, unknown_event, wrong_room)}) == 1

    # A member who joined after the event, in a room whose history starts at joining.
    await env.alice.ok(
        "PUT",
        f"/rooms/{room}/state/m.room.history_visibility",
        json={"history_visibility": "joined"},
    )
    secret = await env.alice.send(room, "before you came")
    await env.alice.invite(room, env.bob.user_id)
    await env.bob.join(room)
    status, _ = await report(env.bob, f"/rooms/{room}/report/{secret}", {"reason": "x"})
    assert status == 404
    # A member who left may not report either.
    later = await env.alice.send(room, "seen")
    assert (await report(env.bob, f"/rooms/{room}/report/{later}", {}))[0] == 200
    await env.bob.ok("POST", f"/rooms/{room}/leave", json={})
    assert (await report(env.bob, f"/rooms/{room}/report/{later}", {}))[0] == 404

    r = await env.get(env.admin, QUEUE)
    assert len(r.json()["reports"]) == 1


async def test_unknown_rooms_and_users_are_404(env: AdminEnv) -> None:
    status, body = await report(env.bob, "/rooms/!nope:test.local/report", {"reason": "x"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await report(env.bob, "/users/@nobody:test.local/report", {"reason": "x"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert (await env.get(env.admin, QUEUE)).json()["reports"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},  # reason is required for rooms and users
        {"reason": 5},
        {"reason": None},
        {"reason": "x" * 2001},
        [],
    ],
)
async def test_invalid_report_bodies_are_400_and_change_nothing(
    env: AdminEnv, body: object
) -> None:
    room = await env.alice.create_room(preset="public_chat")
    await env.bob.join(room)
    event = await env.alice.send(room, "hello")

    status, _ = await report(env.bob, f"/rooms/{room}/report", body)
    assert status == 400
    status, _ = await report(env.bob, f"/users/{env.alice.user_id}/report", body)
    assert status == 400
    if body not in ({}, {"reason": None}):  # an event report's reason is optional
        status, _ = await report(env.bob, f"/rooms/{room}/report/{event}", body)
        assert status == 400
    assert (await env.get(env.admin, QUEUE, status="all")).json()["reports"] == []


async def test_the_queue_is_for_administrators_only(env: AdminEnv) -> None:
    await report(env.bob, f"/users/{env.alice.user_id}/report", {"reason": "rude"})

    for who in (env.alice, env.bob):
        r = await env.get(who, QUEUE)
        assert (r.status_code, r.json()["errcode"]) == (403, "CANDOR_FORBIDDEN")
        r = await env.get(who, f"{QUEUE}/1")
        assert r.status_code == 403
        r = await env.post(who, f"{QUEUE}/1/dismiss")
        assert r.status_code == 403
    assert (await env.get(None, QUEUE)).status_code == 401


async def test_reading_the_reported_event_is_recorded(env: AdminEnv) -> None:
    room = await env.alice.create_room(preset="public_chat")
    await env.bob.join(room)
    event = await env.alice.send(room, "buy my pills")
    await report(env.bob, f"/rooms/{room}/report/{event}", {"reason": "spam"})
    (queued,) = (await env.get(env.admin, QUEUE)).json()["reports"]
    report_id = queued["report_id"]
    size_before = await env.hs.tlog.size()

    one = await env.get(env.admin, f"{QUEUE}/{report_id}")
    assert one.status_code == 200
    assert "buy my pills" not in one.text
    assert await env.hs.tlog.size() == size_before  # the report itself: not a read of Alice

    r = await env.get(env.admin, f"{QUEUE}/{report_id}/event")
    assert r.status_code == 200, r.text
    assert r.json()["event"]["content"]["body"] == "buy my pills"
    assert r.json()["event"]["event_id"] == event
    assert await env.hs.tlog.size() == size_before + 1

    mine = await env.http.get("/_candor/v1/me/accesses", headers=env.alice.headers)
    (record,) = [a["record"] for a in mine.json()["accesses"]]
    assert record["action"] == "admin.read_reported_event"
    assert record["actor"] == {"kind": "admin", "id": env.admin.user_id}
    assert record["subjects"] == [env.alice.user_id]
    assert record["basis"] == f"report #{report_id} by {env.bob.user_id}: spam"
    assert record["resource"]["event_id"] == event
    assert r.json()["log_index"] == mine.json()["accesses"][0]["index"]
    # The reporter's own data was not read.
    theirs = await env.http.get("/_candor/v1/me/accesses", headers=env.bob.headers)
    assert theirs.json()["accesses"] == []

    # Room and user reports have no content to read.
    await report(env.bob, f"/rooms/{room}/report", {"reason": ""})
    r = await env.get(env.admin, f"{QUEUE}/{report_id + 1}/event")
    assert r.status_code == 400


async def test_reports_are_resolved_or_dismissed_once(env: AdminEnv) -> None:
    await report(env.bob, f"/users/{env.alice.user_id}/report", {"reason": "rude"})
    await report(env.bob, f"/users/{env.carol.user_id}/report", {"reason": "meh"})
    first, second = [x["report_id"] for x in (await env.get(env.admin, QUEUE)).json()["reports"]]

    r = await env.http.post(
        f"/_candor/admin/v1/reports/{first}/resolve",
        json={"note": "warned"},
        headers=env.admin.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"]) == ("resolved", "warned")
    assert r.json()["closed_by"] == env.admin.user_id
    r = await env.post(env.admin, f"{QUEUE}/{second}/dismiss")
    assert (r.status_code, r.json()["status"]) == (200, "dismissed")

    again = await env.post(env.admin, f"{QUEUE}/{first}/dismiss")
    assert (again.status_code, again.json()["errcode"]) == (409, "CANDOR_REPORT_CLOSED")
    assert (await env.post(env.admin, f"{QUEUE}/999/dismiss")).status_code == 404
    assert (await env.get(env.admin, QUEUE)).json()["reports"] == []
    closed = (await env.get(env.admin, QUEUE, status="resolved")).json()["reports"]
    assert [x["report_id"] for x in closed] == [first]
    assert len((await env.get(env.admin, QUEUE, status="all")).json()["reports"]) == 2
    assert (await env.get(env.admin, QUEUE, status="bogus")).status_code == 400


async def test_the_queue_pages(env: AdminEnv) -> None:
    for _ in range(3):
        await report(env.bob, f"/users/{env.alice.user_id}/report", {"reason": "again"})
    page = (await env.get(env.admin, QUEUE, limit=2)).json()
    assert len(page["reports"]) == 2
    rest = (await env.get(env.admin, QUEUE, limit=2, **{"from": page["next_from"]})).json()
    assert len(rest["reports"]) == 1
    assert "next_from" not in rest


async def test_reports_are_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"rate_limit": RateLimitSettings(enabled=True, per_second=0.01, burst=20)}
    )
    async with admin_env(limited) as env:
        statuses = [
            (await report(env.bob, f"/users/{env.alice.user_id}/report", {"reason": "x"}))[0]
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert len((await env.get(env.admin, QUEUE)).json()["reports"]) == 2
