"""Sharing in a real browser over a real `candor serve`: alice opens the launcher in
Debian's chromium (Playwright), logs in, picks two conversations and sends; bob's and
carol's matrix-nio clients receive the card; bob follows its link in his browser, which
counts one click and lands on the partner URL (intercepted with `page.route`). A URL off
the app's domains is refused at share time."""

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomMessageText, SyncResponse
from playwright.async_api import Route, async_playwright, expect
from sqlalchemy import select

from candor.store.db import Database
from candor.store.models.share import ShareRecipient
from tests.e2e.conftest import ServerProcess
from tests.e2e.oauth_flow import PASSWORD, register_app, register_person

# The browser is the subject, not the database: SQLite (test_web_accesses_browser is the PostgreSQL smoke).
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(180)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TARGET = "https://watch.flix.example/title/42"

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)


async def _nio(server: ServerProcess, name: str) -> AsyncClient:
    client = AsyncClient(server.base_url, name)
    await client.login(PASSWORD)
    assert client.access_token, name
    return client


async def _card(client: AsyncClient, room_id: str) -> dict[str, Any]:
    for _ in range(20):
        resp = await client.sync(timeout=1000, full_state=False)
        assert isinstance(resp, SyncResponse), resp
        room = resp.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and "io.candor.card" in event.source["content"]:
                card: dict[str, Any] = event.source["content"]
                return card
    raise AssertionError("no card arrived")


async def _login(page: Any, name: str) -> None:
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_share_to_two_conversations_and_follow_the_link(server: ServerProcess) -> None:
    app = register_app(server)
    for name in ("alice", "bob", "carol"):
        await register_person(server, name)
    alice, bob, carol = [await _nio(server, n) for n in ("alice", "bob", "carol")]
    try:
        club = await alice.room_create(name="Film club")
        assert isinstance(club, RoomCreateResponse), club
        dm = await alice.room_create(name="Carol and me")
        assert isinstance(dm, RoomCreateResponse), dm
        for room, who in ((club.room_id, bob), (dm.room_id, carol)):
            await alice.room_invite(room, who.user_id)
            assert isinstance(await who.join(room), JoinResponse)
        await bob.sync(timeout=0)
        await carol.sync(timeout=0)
        query = {
            "app_id": app.client_id,
            "url": TARGET,
            "title": "The Long Night",
            "description": "A thriller",
            "interface": "web",
            "surface": "title_page",
            "variant": "a",
        }
        landed: list[str] = []

        async def at_click(route: Route) -> None:
            """Playwright routes only the first URL of a redirect chain: the click's 302 is
            fetched here and its partner URL answered here, as the partner site would."""
            answer = await route.fetch(max_redirects=0)
            if answer.status == 302:
                landed.append(answer.headers["location"])
                await route.fulfill(status=200, content_type="text/plain", body="StreamFlix")
                return
            await route.fulfill(response=answer)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await (await browser.new_context()).new_page()
                off = {**query, "url": "https://evil.test/x"}
                await page.goto(f"{server.base_url}/share?{urlencode(off)}")
                await _login(page, "alice")
                await expect(page.get_by_text("registered domains")).to_be_visible()

                await page.goto(f"{server.base_url}/share?{urlencode(query)}")
                await expect(page.get_by_role("heading", name="The Long Night")).to_be_visible()
                await page.get_by_label("Film club", exact=False).check()
                await page.get_by_label("Carol and me", exact=False).check()
                await page.get_by_label("Note (optional)").fill("Watch this!")
                await page.get_by_role("button", name="Send").click()
                await expect(page.get_by_text("Sent to 2 conversations")).to_be_visible()

                card = await _card(bob, club.room_id)
                assert "Watch this!" in card["body"]
                link = card["io.candor.card"]["link"]
                assert link.startswith(f"{server.base_url}/c/cdr_ct_")
                carol_card = await _card(carol, dm.room_id)
                assert carol_card["io.candor.card"]["title"] == "The Long Night"

                bob_context = await browser.new_context()
                await bob_context.route(f"{server.base_url}/c/**", at_click)
                bob_page = await bob_context.new_page()
                await bob_page.goto(f"{server.base_url}/login")
                await _login(bob_page, "bob")
                await expect(bob_page.get_by_role("button", name="Log out")).to_be_visible()
                await bob_page.goto(link)
                await expect(bob_page.get_by_text("StreamFlix")).to_be_visible()
                await bob_page.goto(link)
                assert landed == [TARGET, TARGET]
            finally:
                await browser.close()

        url = server.database_url
        if url.startswith("sqlite:///"):
            url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        elif url.startswith("postgresql://"):
            url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
        db = Database(url)
        try:
            async with db.read() as conn:
                rows = {r.user_id: r for r in (await conn.execute(select(ShareRecipient))).all()}
        finally:
            await db.engine.dispose()
        assert rows[bob.user_id].first_click_ts is not None
        assert rows[bob.user_id].repeat_clicks == 1
        assert rows[carol.user_id].first_click_ts is None
    finally:
        for c in (alice, bob, carol):
            await c.close()
