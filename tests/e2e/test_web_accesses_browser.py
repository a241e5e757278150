"""A person checks "Who accessed my data" in a real browser, on a real `candor serve`.

An administrator (made with `candor user create --admin`) reads a room's messages with a
justification; alice, a member, logs in through the login page in Debian's chromium
(driven by Playwright, no bundled browser), opens the page, sees the read in plain
language and, once the next signed checkpoint covers it, verified; then logs out, after
which the page sends her back to the login form. The browser must report no errors (a
CSP violation, a missing stylesheet) along the way.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, Response, async_playwright, expect

from tests.e2e.conftest import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CANDOR = Path(sys.executable).parent / "candor"
V3 = "/_matrix/client/v3"
PASSWORD = "correct horse"
JUSTIFICATION = "abuse report #12: harassment complaint"
VERIFIED_WITHIN_S = 15.0

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)


def make_admin(server: ServerProcess) -> None:
    made = subprocess.run(
        [
            str(CANDOR),
            "user",
            "create",
            "root",
            "--password",
            PASSWORD,
            "--admin",
            "--data-dir",
            str(server.data_dir),
            "--database-url",
            server.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr


async def admin_reads_alices_room(server: ServerProcess) -> str:
    """alice and bob chat in a room; the administrator reads it, stating why."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        tokens = {}
        for name in ("alice", "bob"):
            r = await http.post(
                f"{V3}/register",
                json={"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
            )
            assert r.status_code == 200, r.text
            tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await http.post(
            f"{V3}/createRoom", json={"preset": "public_chat"}, headers=tokens["alice"]
        )
        room: str = r.json()["room_id"]
        assert (await http.post(f"{V3}/join/{room}", json={}, headers=tokens["bob"])).is_success
        for i in range(3):
            r = await http.put(
                f"{V3}/rooms/{room}/send/m.room.message/t{i}",
                json={"msgtype": "m.text", "body": f"hello {i}"},
                headers=tokens["alice"],
            )
            assert r.status_code == 200, r.text
        r = await http.post(
            f"{V3}/login",
            json={"type": "m.login.password", "user": "root", "password": PASSWORD},
        )
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await http.get(
            f"/_candor/admin/v1/rooms/{room}/messages",
            params={"justification": JUSTIFICATION},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        return room


async def wait_until_verified(page: Page) -> None:
    """Checkpoints come at most every second: reload (bounded) until one covers the record."""
    deadline = time.monotonic() + VERIFIED_WITHIN_S
    marker = page.get_by_text("✓ Verified")
    while await marker.count() == 0:
        assert time.monotonic() < deadline, "the record was not verified in time"
        await page.wait_for_timeout(500)
        await page.reload()


async def test_a_member_sees_the_admin_read_verified_in_the_browser(
    server: ServerProcess, tmp_path: Path
) -> None:
    make_admin(server)
    room = await admin_reads_alices_room(server)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    def on_response(response: Response) -> None:
        # Redirects (303) are expected; a failed subresource is not.
        if response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("console", on_console)
            page.on("response", on_response)

            await page.goto(f"{server.base_url}/privacy/accesses")
            assert page.url == f"{server.base_url}/login?next=/privacy/accesses"
            await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            await page.get_by_label("Username").fill("alice")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()

            await page.wait_for_url(f"{server.base_url}/privacy/accesses")
            await expect(
                page.get_by_role("heading", name="Who accessed my data", level=1)
            ).to_be_visible()
            await wait_until_verified(page)
            record = page.locator("li.access").first
            await expect(record).to_contain_text(
                "An administrator read messages in a conversation without a name"
            )
            await expect(record).to_contain_text("signed in as root (@root:localhost)")
            await expect(record).to_contain_text(JUSTIFICATION)
            await expect(record).to_contain_text(re.compile(r"\d+ messages and other events"))
            await expect(record).not_to_contain_text(room)
            await expect(record).to_contain_text("You and 1 other person")
            await expect(record).to_contain_text(re.compile(r"\d{4}, \d\d:\d\d:\d\d UTC"))
            await expect(page.get_by_text("--state candor-audit.json")).to_be_visible()
            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                await page.screenshot(path=str(tmp_path / f"accesses-{width}.png"), full_page=True)
                # Nothing wider than the screen: no sideways scrolling on a phone.
                assert await page.evaluate("document.documentElement.scrollWidth") <= width

            (cookie,) = [c for c in await context.cookies() if c["name"] == "candor_session"]
            assert cookie.get("httpOnly") is True
            assert cookie.get("sameSite") == "Lax"
            assert await page.evaluate("document.cookie") == ""  # HttpOnly: script sees nothing

            await page.get_by_role("button", name="Log out").click()
            await page.wait_for_url(f"{server.base_url}/login?logged_out=1")
            await expect(page.get_by_text("You have logged out.")).to_be_visible()
            await page.goto(f"{server.base_url}/privacy/accesses")
            assert page.url.startswith(f"{server.base_url}/login")
        finally:
            await browser.close()

    assert problems == []
