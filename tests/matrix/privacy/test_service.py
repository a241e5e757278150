"""PrivacyService.accesses_of on both engines: a person's records by user id (for web
sessions), with the checkpoint's size and origin, pending until a checkpoint covers them."""

from collections.abc import AsyncIterator

import pytest

from candor.app import create_app
from candor.config import Settings
from candor.matrix.context import Homeserver
from candor.transparency.records import AccessAction, ActorKind
from candor.wiring import build_services

ALICE, BOB = "@alice:test.local", "@bob:test.local"


@pytest.fixture
async def hs(settings: Settings) -> AsyncIterator[Homeserver]:
    settings = settings.model_copy(
        update={
            "transparency": settings.transparency.model_copy(
                update={"checkpoint_interval_ms": 3_600_000}
            )
        }
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.homeserver


async def _record(hs: Homeserver) -> int:
    return await hs.access.record_access(
        actor_kind=ActorKind.ADMIN,
        actor_id="@root:test.local",
        basis="abuse report #12",
        subjects=[ALICE],
        resource={"room_id": "!r:test.local", "from": 1, "to": 2, "count": 2},
        action=AccessAction.ADMIN_READ_MESSAGES,
    )


async def test_records_by_user_id_with_the_checkpoint_they_were_checked_against(
    hs: Homeserver,
) -> None:
    privacy = build_services(hs).privacy
    index = await _record(hs)

    pending = await privacy.accesses_of(ALICE)
    await hs.transparency.make_checkpoint()
    proved = await privacy.accesses_of(ALICE)

    assert pending.origin == proved.origin == "test.local/candor-log"
    assert pending.size == index
    assert [(r["index"], r["verified"], r["proof"]) for r in pending.records] == [
        (index, False, None)
    ]
    assert proved.size == index + 1
    assert proved.checkpoint.startswith(f"test.local/candor-log\n{index + 1}\n")
    assert [(r["index"], r["verified"]) for r in proved.records] == [(index, True)]
    assert (await privacy.accesses_of(BOB)).records == []
