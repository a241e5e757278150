"""`Notifier.position`: the newest committed stream position, vouched for only after a
read of the database set the baseline, so that /sync need not read it per request."""

import asyncio

import pytest

from candor.matrix.events.filters import SyncFilter
from candor.matrix.sync import notifier as notifier_module
from candor.matrix.sync.notifier import POSITION_TRUST_S, Notifier
from candor.matrix.sync.tokens import SyncToken
from tests.helpers.matrix import MatrixTestClient
from tests.matrix.sync.test_woken_builds import _service


def test_the_position_is_vouched_for_from_a_read_until_notices_may_be_lost() -> None:
    now = [100.0]
    notifier = Notifier(lambda: now[0])
    notifier.notify(rooms=["!r"], position=5)
    assert notifier.position is None  # no baseline read yet
    notifier.heard(4)
    assert notifier.position == 5  # never backwards
    notifier.notify(users=["@a"], position=9)
    notifier.notify(users=["@a"])  # typing: no position
    assert notifier.position == 9
    notifier.distrust_position()
    assert notifier.position is None
    notifier.heard(11)
    assert notifier.position == 11
    now[0] += POSITION_TRUST_S + 0.1  # a writer that told nobody is seen within a second
    assert notifier.position is None
    notifier.heard(12)
    assert notifier.position == 12


async def test_a_caught_up_re_poll_reads_nothing_from_the_database(
    alice: MatrixTestClient, bob: MatrixTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifier_module, "POSITION_TRUST_S", 3600.0)  # however slow the machine
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    service = _service(bob)
    since = SyncToken.parse((await bob.sync())["next_batch"])
    assert await service._caught_up(since, SyncFilter())  # reads once: the baseline

    def no_reads() -> None:
        raise AssertionError("a caught-up re-poll read the database")

    reads = service._db.now
    monkeypatch.setattr(service._db, "now", no_reads)
    assert await service._caught_up(since, SyncFilter())
    monkeypatch.setattr(service._db, "now", reads)
    await alice.send(room, "news")  # the persister tells the notifier its position
    monkeypatch.setattr(service._db, "now", no_reads)
    assert not await service._caught_up(since, SyncFilter())


async def test_a_message_wakes_a_parked_poll_and_is_answered_at_its_position(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    waiting = asyncio.create_task(bob.sync(since=since, timeout=10_000))
    await asyncio.sleep(0.2)
    event_id = await alice.send(room, "wake up")
    got = await asyncio.wait_for(waiting, 10)
    timeline = got["rooms"]["join"][room]["timeline"]["events"]
    assert [e["event_id"] for e in timeline] == [event_id]
    assert SyncToken.parse(got["next_batch"]).position > SyncToken.parse(since).position
