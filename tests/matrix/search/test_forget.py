"""`search.facts.forget_events`: what account erasure calls to unindex pruned events."""

import httpx
from sqlalchemy import text

from candor.app.factory import create_app
from candor.config import Settings
from candor.matrix.search.facts import forget_events, forget_positions
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks


async def _found(client: MatrixTestClient, term: str) -> list[str]:
    body = {"search_categories": {"room_events": {"search_term": term}}}
    r = await client.ok("POST", "/search", json=body)
    return [x["result"]["event_id"] for x in r["search_categories"]["room_events"]["results"]]


async def test_forgotten_events_are_not_found(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as http:
            alice = await MatrixTestClient.register(http, "alice")
            room = await alice.create_room(preset="public_chat")
            first = await alice.send(room, "erasable one")
            second = await alice.send(room, "erasable two")
            third = await alice.send(room, "erasable three")
            assert sorted(await _found(alice, "erasable")) == sorted([first, second, third])
            db = app.state.homeserver.db
            async with db.write() as conn:
                await forget_events(conn, [first, "$unknown"])
            assert sorted(await _found(alice, "erasable")) == sorted([second, third])
            event = await alice.ok("GET", f"/rooms/{room}/event/{second}")
            assert event["event_id"] == second
            async with db.read() as conn:
                pos = (
                    await conn.execute(
                        text("SELECT stream_pos FROM events WHERE event_id = :e"), {"e": second}
                    )
                ).scalar_one()
            async with db.write() as conn:
                await forget_positions(conn, [pos])
            assert await _found(alice, "erasable") == [third]
