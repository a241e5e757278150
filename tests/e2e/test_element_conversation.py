"""Element Web, unmodified, in Chromium against a real `candor serve`: the conversation
features of issue 18, each done by one person and seen by the other.

Alice and Bob (accounts made through the API) sign in to Element and share an unencrypted
room. Bob replies to Alice's question in a thread, and Alice's Element shows the thread
as notifying (from the server's per-thread counts), then its reply, and reading it clears
the notification; Alice
edits her question, and Bob sees the new words marked "(edited)"; Bob reacts with 👍, and
Alice sees the reaction; Bob searches the room for a word Alice wrote, and finds her
message; Alice upgrades the room, and Bob's Element says the room was replaced and takes
him to the new one.

As in `test_element.py`, every API answer ≥ 400 Element receives is recorded, and the test
fails on any that is not explained in its `EXPECTED`.
"""

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.e2e.conftest import ServerProcess
from tests.e2e.test_element import unexpected
from tests.helpers import element_ui as ui
from tests.helpers.browser import CHROMIUM
from tests.helpers.browser import SKIP_REASON as NO_CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(240)]

if not CHROMIUM.exists():
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

PASSWORD = "correct horse battery staple"
ROOM = "Weekend plans"
C = "/_matrix/client"


async def shared_room(server: ServerProcess) -> None:
    """Alice's and Bob's accounts, and an unencrypted room both are in (made by the API:
    the subject here is what happens in the room)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client:
        tokens = {}
        for name in ("alice", "bob"):
            body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
            registered = await client.post(f"{C}/v3/register", json=body)
            assert registered.status_code == 200, registered.text
            tokens[name] = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        created = await client.post(
            f"{C}/v3/createRoom",
            json={"preset": "public_chat", "name": ROOM, "invite": ["@bob:localhost"]},
            headers=tokens["alice"],
        )
        assert created.status_code == 200, created.text
        room = created.json()["room_id"]
        joined = await client.post(f"{C}/v3/rooms/{room}/join", json={}, headers=tokens["bob"])
        assert joined.status_code == 200, joined.text
        for auth in tokens.values():
            assert (await client.post(f"{C}/v3/logout", headers=auth)).status_code == 200


async def test_element_threads_edits_reactions_search_and_upgrade(
    server: ServerProcess, element: str, browser: Browser, tmp_path: Path
) -> None:
    await shared_room(server)
    async with ui.people(browser, tmp_path) as cast:

        async def person(who: str) -> Page:
            page = await cast.page(who)
            await ui.sign_in(page, element, who, PASSWORD)
            await ui.expect_home(page)
            await ui.open_room(page, ROOM)
            return page

        alice = await person("alice")
        bob = await person("bob")

        question = "Shall we meet on Friday for croissants?"
        await ui.send_message(alice, question, encrypted=False)

        # Bob replies in a thread; Alice's Threads button shows the thread's notification
        # (the server's per-thread count), she sees the reply, and reading it clears it
        # (Element's threaded receipt).
        await ui.reply_in_thread(bob, question, "Friday works for me")
        await ui.expect_threads_unread(alice, True)
        await cast.snapshot("1-thread-unread")
        await ui.expect_thread_reply(alice, question, "Friday works for me")
        await ui.expect_threads_unread(alice, False)
        await cast.snapshot("1-thread")

        # Alice edits her question; Bob sees the new words, marked as edited.
        edited = "Shall we meet on Saturday for croissants?"
        await ui.edit_message(alice, question, edited)
        await ui.expect_edited(bob, edited)
        await cast.snapshot("2-edit")

        # Bob reacts with 👍; Alice sees it.
        await ui.react(bob, edited, "👍")
        await ui.expect_reaction(alice, edited, "👍", 1)
        await cast.snapshot("3-react")

        # Bob searches the room for a word of Alice's and finds her message.
        await ui.search_room(bob, "croissants")
        await ui.expect_search_result(bob, "croissants")
        await cast.snapshot("4-search")
        await ui.close_search(bob)

        # Alice upgrades the room; Bob's Element says it was replaced and follows it.
        await ui.upgrade_room(alice, "10")
        await ui.expect_room_replaced(bob)
        await cast.snapshot("5-upgrade")

    wrong = unexpected(cast.record.failures)
    assert not wrong, "unexpected API errors:\n" + "\n".join(map(str, wrong))
