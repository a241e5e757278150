"""The migration indexes existing history the way the send path would have."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from candor.app.factory import create_app
from candor.config import Settings
from candor.store.migrate import downgrade, upgrade
from tests.helpers.databases import empty_pg_database
from tests.helpers.matrix import MatrixTestClient


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A plain URL (as Settings takes it) of a database with no tables."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with empty_pg_database() as url:
        yield url


def _alembic(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _search(client: MatrixTestClient, term: str) -> list[str]:
    body = {"search_categories": {"room_events": {"search_term": term, "order_by": "recent"}}}
    r = await client.ok("POST", "/search", json=body)
    return [x["result"]["event_id"] for x in r["search_categories"]["room_events"]["results"]]


async def test_upgrade_indexes_existing_history(fresh_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade, _alembic(fresh_url))
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=fresh_url,
        server_name="test.local",
        rate_limit={"enabled": False},
        http={"public_base_url": "http://test.local"},
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            alice = await MatrixTestClient.register(http, "alice")
            room = await alice.create_room(preset="public_chat", name="history room")
            kept = await alice.send(room, "history kept")
            gone = await alice.send(room, "history redacted")
            await alice.ok("PUT", f"/rooms/{room}/redact/{gone}/r1", json={})
            secret = await alice.create_room()  # encrypted by default
            await alice.send(secret, "history hidden")
            before = await _search(alice, "history")
    assert kept in before
    assert gone not in before
    await asyncio.to_thread(downgrade, _alembic(fresh_url), "-1")
    await asyncio.to_thread(upgrade, _alembic(fresh_url))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            r = await http.post(
                "/_matrix/client/v3/login",
                json={"type": "m.login.password", "user": "alice", "password": "correct horse"},
            )
            body = r.json()
            alice = MatrixTestClient(http, body["user_id"], body["access_token"], "D")
            assert await _search(alice, "history") == before
