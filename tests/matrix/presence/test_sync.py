"""The `presence` section of /sync: room-mates only, incremental by stream position,
`set_presence`, the filter's `presence` section, and long-polls woken by a change."""

import asyncio
import json
import time
from typing import Any

from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient


def presence_of(body: Any) -> dict[str, dict[str, Any]]:
    """sender -> content of the response's m.presence events (one each at most)."""
    events = body["presence"]["events"]
    assert all(e["type"] == "m.presence" for e in events)
    senders = [e["sender"] for e in events]
    assert len(senders) == len(set(senders))
    return {e["sender"]: e["content"] for e in events}


async def share_room(alice: MatrixTestClient, *others: MatrixTestClient) -> str:
    room = await alice.create_room()
    for other in others:
        await alice.invite(room, other.user_id)
        await other.join(room)
    return room


async def put(who: MatrixTestClient, presence: str, status_msg: str | None = None) -> None:
    body: dict[str, str] = {"presence": presence}
    if status_msg is not None:
        body["status_msg"] = status_msg
    await who.ok("PUT", f"/presence/{who.user_id}/status", json=body)


async def test_initial_sync_lists_room_mates_and_yourself_only(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await share_room(alice, bob)
    await put(alice, "unavailable", "in a meeting")
    await put(carol, "online")  # shares no room with bob
    seen = presence_of(await bob.sync(set_presence="offline"))
    assert set(seen) == {alice.user_id}
    assert seen[alice.user_id]["presence"] == "unavailable"
    assert seen[alice.user_id]["status_msg"] == "in a meeting"
    # Syncing (online by default) marks bob online, and he sees himself.
    seen = presence_of(await bob.sync())
    assert set(seen) == {alice.user_id, bob.user_id}
    assert seen[bob.user_id]["presence"] == "online"
    assert seen[bob.user_id]["currently_active"] is True


async def test_incremental_sync_carries_each_change_once(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await share_room(alice, bob)
    first = await bob.sync(set_presence="offline")
    assert presence_of(first) == {}
    await put(alice, "online", "hello")
    second = await bob.sync(first["next_batch"], set_presence="offline")
    assert presence_of(second) == {
        alice.user_id: {
            "presence": "online",
            "last_active_ago": 0,
            "currently_active": True,
            "status_msg": "hello",
        }
    }
    third = await bob.sync(second["next_batch"], set_presence="offline")
    assert presence_of(third) == {}
    # Setting the same state again is not a change; a new status message is.
    await put(alice, "online", "hello")
    assert presence_of(await bob.sync(third["next_batch"], set_presence="offline")) == {}
    await put(alice, "online", "bye")
    fourth = await bob.sync(third["next_batch"], set_presence="offline")
    assert presence_of(fourth)[alice.user_id]["status_msg"] == "bye"


async def test_a_stranger_s_change_is_not_sent(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await share_room(alice, bob)
    first = await bob.sync(set_presence="offline")
    await put(carol, "online")
    assert presence_of(await bob.sync(first["next_batch"], set_presence="offline")) == {}


async def test_set_presence_on_sync(
    alice: MatrixTestClient, bob: MatrixTestClient, clock: FakeClock
) -> None:
    await share_room(alice, bob)
    first = await bob.sync(set_presence="offline")
    await alice.sync(set_presence="unavailable")
    second = await bob.sync(first["next_batch"], set_presence="offline")
    assert presence_of(second)[alice.user_id]["presence"] == "unavailable"
    # `offline` leaves presence as it is.
    await alice.sync(set_presence="offline")
    third = await bob.sync(second["next_batch"], set_presence="offline")
    assert presence_of(third) == {}
    assert (await bob.ok("GET", f"/presence/{alice.user_id}/status"))["presence"] == "unavailable"
    await alice.sync()
    fourth = await bob.sync(third["next_batch"], set_presence="offline")
    assert presence_of(fourth)[alice.user_id]["presence"] == "online"
    # Another device of alice's asking for `unavailable` right after does not flip her
    # (each flip would wake the other device's long-poll, and back).
    await alice.sync(set_presence="unavailable")
    fifth = await bob.sync(fourth["next_batch"], set_presence="offline")
    assert presence_of(fifth) == {}
    clock.advance(61)
    await alice.sync(set_presence="unavailable")
    sixth = await bob.sync(fifth["next_batch"], set_presence="offline")
    assert presence_of(sixth)[alice.user_id]["presence"] == "unavailable"


async def test_a_bad_set_presence_is_refused(alice: MatrixTestClient) -> None:
    r = await alice.request("GET", "/sync", params={"set_presence": "busy"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    assert (await alice.ok("GET", f"/presence/{alice.user_id}/status"))["presence"] == "offline"


async def test_the_filter_s_presence_section_applies(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await share_room(alice, bob, carol)
    await put(alice, "online")
    await put(carol, "unavailable")
    off = json.dumps({"presence": {"not_types": ["*"]}})
    assert presence_of(await bob.sync(filter=off, set_presence="offline")) == {}
    only_alice = json.dumps({"presence": {"senders": [alice.user_id]}})
    seen = presence_of(await bob.sync(filter=only_alice, set_presence="offline"))
    assert set(seen) == {alice.user_id}
    not_alice = json.dumps({"presence": {"not_senders": [alice.user_id]}})
    seen = presence_of(await bob.sync(filter=not_alice, set_presence="offline"))
    assert set(seen) == {carol.user_id}
    one = json.dumps({"presence": {"limit": 1}})
    seen = presence_of(await bob.sync(filter=one, set_presence="offline"))
    assert set(seen) == {carol.user_id}  # the newest change
    # A stored filter works the same way.
    stored = await bob.ok("POST", f"/user/{bob.user_id}/filter", json={"presence": {"types": []}})
    assert presence_of(await bob.sync(filter=stored["filter_id"], set_presence="offline")) == {}
    r = await bob.request("GET", "/sync", params={"filter": json.dumps({"presence": []})})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")


async def test_a_room_mate_s_change_wakes_a_long_poll(
    alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> None:
    await share_room(alice, bob)
    first = await bob.sync(set_presence="offline")
    started = time.monotonic()
    poll = asyncio.create_task(
        bob.sync(first["next_batch"], timeout=10_000, set_presence="offline")
    )
    await asyncio.sleep(0.3)
    await put(carol, "online")  # a stranger: bob keeps waiting
    await asyncio.sleep(0.3)
    assert not poll.done()
    await put(alice, "unavailable")
    woken = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 5
    assert presence_of(woken) == {alice.user_id: presence_of(woken)[alice.user_id]}
    assert presence_of(woken)[alice.user_id]["presence"] == "unavailable"
