"""`presence.enabled = false` (the default): nothing stored, nothing shared. GET answers
`offline` for anyone (as Synapse with `presence: enabled: false`), PUT is accepted and
ignored, /sync carries no presence, and refusals that do not depend on presence stay."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from candor.app import create_app
from candor.config import PresenceSettings, Settings
from candor.store.db import Database
from candor.store.models.presence import Presence
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks


def test_presence_is_off_by_default() -> None:
    assert PresenceSettings().enabled is False


@pytest.fixture
def off_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence": PresenceSettings(enabled=False)})


@pytest.fixture
async def off(off_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(off_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client


async def stored_rows(settings: Settings) -> int:
    db = Database(settings.sqlalchemy_url())
    try:
        async with db.read() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Presence)) or 0)
    finally:
        await db.dispose()


async def test_switched_off_nothing_is_stored_or_shared(
    off: httpx.AsyncClient, off_settings: Settings
) -> None:
    alice = await MatrixTestClient.register(off, "alice")
    bob = await MatrixTestClient.register(off, "bob")
    carol = await MatrixTestClient.register(off, "carol")
    room = await alice.create_room()
    await alice.invite(room, bob.user_id)
    await bob.join(room)
    first = await bob.sync()
    path = f"/presence/{alice.user_id}/status"
    assert await alice.ok("PUT", path, json={"presence": "online", "status_msg": "hi"}) == {}
    await alice.sync(set_presence="unavailable")
    assert await alice.ok("GET", path) == {"presence": "offline"}
    assert await bob.ok("GET", path) == {"presence": "offline"}
    assert await carol.ok("GET", path) == {"presence": "offline"}
    assert first["presence"]["events"] == []
    again = await bob.sync(first["next_batch"])
    assert again["presence"]["events"] == []
    assert (await bob.sync())["presence"]["events"] == []
    assert await stored_rows(off_settings) == 0
    # What does not depend on presence is still refused.
    r = await bob.request("PUT", path, json={"presence": "online"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")
    r = await alice.request("PUT", path, json={"presence": "busy"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
    r = await alice.request("GET", "/sync", params={"set_presence": "busy"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")


async def test_switched_on_rows_are_stored(alice: MatrixTestClient, settings: Settings) -> None:
    await alice.ok("PUT", f"/presence/{alice.user_id}/status", json={"presence": "online"})
    assert await stored_rows(settings) == 1
