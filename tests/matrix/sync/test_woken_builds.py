"""Answers built from a shared window without a database snapshot
(`SyncService._build_from_window`, `sync/unread.py`): each must be what a build from the
database gives. In each test one person reads a window first (from the database, which
shares it), then the others read it; the service counts the builds that needed no
snapshot, so the tests know the path they checked was taken."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from candor.matrix.push.counting import Unread, WindowNotifications
from candor.matrix.sync.service import SyncService
from tests.helpers.e2ee import SIGNED_CURVE25519, FakeDevice, claim_one, login, upload_keys
from tests.helpers.matrix import V3, MatrixTestClient

# Only the room part matters here; the initial sync counts with its own set-wise query.
_ROOMS_ONLY = '{"presence":{"types":[]},"account_data":{"types":[]}}'


def _service(client: MatrixTestClient) -> SyncService:
    transport = client.http._transport  # the app behind the test client
    assert isinstance(transport, httpx.ASGITransport)
    service = transport.app.state.provided[SyncService]  # type: ignore[attr-defined]
    assert isinstance(service, SyncService)
    return service


def _unread(sync: dict[str, Any], room: str) -> dict[str, int] | None:
    joined = sync["rooms"]["join"].get(room)
    return None if joined is None else joined.get("unread_notifications")


async def _mention(sender: MatrixTestClient, room: str, who: MatrixTestClient, n: int) -> None:
    await sender.ok(
        "PUT",
        f"/rooms/{room}/send/m.room.message/mention-{n}",
        json={"msgtype": "m.text", "body": f"hey {n}", "m.mentions": {"user_ids": [who.user_id]}},
    )


async def test_carried_unread_counts_equal_counts_read_afresh(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await carol.join(room)
    service = _service(alice)
    readers = (carol, bob)  # carol reads each window first; bob's answer shares it
    since = {r.user_id: (await r.sync(filter=_ROOMS_ONLY))["next_batch"] for r in readers}
    latest: list[str] = []

    async def receipt(reader: MatrixTestClient) -> None:
        await reader.ok("POST", f"/rooms/{room}/receipt/m.read/{latest[-1]}", json={})

    steps: list[Callable[[], Awaitable[object]]] = [
        lambda: alice.send(room, "one"),
        lambda: alice.send(room, "two"),
        lambda: _mention(alice, room, bob, 1),  # an exception row: a highlight for bob
        lambda: _mention(alice, room, carol, 2),
        lambda: carol.send(room, "carol speaks"),  # moves carol's read position
        lambda: alice.send(room, "three"),
        lambda: receipt(bob),  # a receipt: not a window of events only
        lambda: alice.send(room, "four"),
        lambda: bob.send(room, "bob speaks"),
        lambda: _mention(alice, room, bob, 3),
        lambda: alice.send(room, "five"),
    ]
    before = service.window_builds
    for step in steps:
        sent = await step()
        if isinstance(sent, str):
            latest.append(sent)
        for reader in readers:
            got = await reader.sync(since=since[reader.user_id], filter=_ROOMS_ONLY)
            since[reader.user_id] = got["next_batch"]
            fresh = _unread(await reader.sync(filter=_ROOMS_ONLY), room)
            counts = _unread(got, room)
            if counts is not None:
                assert counts == fresh, (reader.user_id, step)
    assert service.window_builds - before >= 5
    # After his own message: the mention (a highlight) and "five".
    assert _unread(await bob.sync(filter=_ROOMS_ONLY), room) == {
        "notification_count": 2,
        "highlight_count": 1,
    }


async def test_key_counts_are_read_afresh_on_an_answer_from_a_window(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    await carol.join(room)
    device = FakeDevice.of(bob)
    await upload_keys(bob, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(5))
    service = _service(alice)
    since = {r.user_id: (await r.sync())["next_batch"] for r in (carol, bob)}
    counts = []
    for n in range(3):
        if n:
            assert await claim_one(alice, bob.user_id, bob.device_id)  # no stream position
        await alice.send(room, f"message {n}")
        before = service.window_builds
        for reader in (carol, bob):
            got = await reader.sync(since=since[reader.user_id])
            since[reader.user_id] = got["next_batch"]
        counts.append(got["device_one_time_keys_count"][SIGNED_CURVE25519])
        if n:
            assert service.window_builds > before
    assert counts == [5, 4, 3]


async def test_two_devices_of_one_person_share_an_answer_for_a_window(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    phone = await login(bob.http, bob)
    service = _service(alice)
    since = {d.device_id: (await d.sync())["next_batch"] for d in (bob, phone)}
    for n in range(4):
        await alice.send(room, f"message {n}")
        answers = []
        for device in (bob, phone):
            got = await device.sync(since=since[device.device_id])
            since[device.device_id] = got["next_batch"]
            answers.append(got)
        assert _unread(answers[0], room) == _unread(answers[1], room)
        assert _unread(answers[1], room) == {"notification_count": n + 1, "highlight_count": 0}
    assert service.window_builds >= 3


def test_window_rows_count_baselines_and_each_persons_exceptions() -> None:
    rows = WindowNotifications(
        baselines=(
            (11, "!r", "@a", False, ""),
            (12, "!r", "@b", False, ""),
            (13, "!other", "@a", True, ""),
            (14, "!r", "@a", False, "$root"),
        ),
        exceptions={
            "@b": [("!r", 11, True, True, "")],  # a mention of @b: replaces the baseline
            "@c": [("!r", 12, False, False, ""), ("!r", 14, False, False, "$root")],  # muted
        },
    )
    # 11 as a highlight; 12 is their own; 14 is in a thread.
    assert rows.counted("!r", "@b") == Unread((1, 1), {"$root": (1, 0)})
    assert rows.counted("!r", "@c") == Unread((1, 0), {})  # 11 only
    assert rows.counted("!r", "@d") == Unread((2, 0), {"$root": (1, 0)})
    assert rows.counted("!other", "@d") == Unread((1, 1), {})


@pytest.mark.parametrize(
    "query",
    [
        "timeout=soon",
        "timeout=-1",
        "timeout=3600001",
        "full_state=maybe",
        "since=" + "s" * 65,
        "set_presence=" + "o" * 17,
    ],
)
async def test_bad_sync_parameters_are_refused_as_invalid(
    alice: MatrixTestClient, query: str
) -> None:
    r = await alice.http.get(f"{V3}/sync?{query}", headers=alice.headers)
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == "M_INVALID_PARAM"


async def test_sync_parameters_are_read_as_the_spec_writes_them(alice: MatrixTestClient) -> None:
    first = await alice.sync(timeout="0", full_state="true", set_presence="online")
    again = await alice.sync(since=first["next_batch"], full_state="false", timeout="0")
    assert again["next_batch"] == first["next_batch"]


async def test_a_leave_reaches_every_device_that_reads_its_window(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    phone = await login(bob.http, bob)
    since = {d.device_id: (await d.sync())["next_batch"] for d in (bob, phone)}
    await bob.ok("POST", f"/rooms/{room}/leave", json={})
    for device in (bob, phone):  # the phone reads the window the laptop read first
        got = await device.sync(since=since[device.device_id])
        assert room in got["rooms"]["leave"], device.device_id
        assert room not in got["rooms"]["join"]
