"""An idle /sync long-poll waits parked outside the request's call stack (issue 17: memory
per idle long-poll), and its answer still carries what the middlewares add."""

import asyncio
import gc
import inspect

from candor.matrix.sync import endpoints
from candor.matrix.sync.service import LongPoll
from tests.helpers.matrix import MatrixTestClient


def _alive_sync_endpoints() -> int:
    code = inspect.unwrap(endpoints.sync).__code__
    return sum(1 for o in gc.get_objects() if inspect.iscoroutine(o) and o.cr_code is code)


def _parked() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, LongPoll))


async def test_a_waiting_long_poll_holds_no_endpoint_frame_and_still_answers(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    poll = asyncio.create_task(
        bob.request("GET", "/sync", params={"since": since, "timeout": "10000"})
    )
    for _ in range(200):
        await asyncio.sleep(0.01)
        if _parked():
            break
    assert _parked() == 1
    assert _alive_sync_endpoints() == 0
    await alice.send(room, "wake up")
    r = await asyncio.wait_for(poll, 5)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    events = r.json()["rooms"]["join"][room]["timeline"]["events"]
    assert [e["content"]["body"] for e in events] == ["wake up"]
    gc.collect()
    assert _parked() == 0
