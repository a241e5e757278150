"""The front door on a real `candor serve`: once it listens it says, once, what to do next
(its URL, how to get an account, how to chat, the demo, another port), and a newcomer signs
up in Debian's chromium (Playwright), lands on the page that says how to chat, and no page
of the way in overflows a 1280 px screen or a 390 px phone.

Screenshots go to `$CANDOR_SCREENSHOTS` when it is set (to look at), else the test's
temporary directory.
"""

import os
import time
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, async_playwright, expect

from tests.e2e.conftest import ServerProcess
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PASSWORD = "correct horse"
BANNER = "Candor is running at"
WIDTHS = (1280, 390)


def wait_for_log(server: ServerProcess, text: str, count: int, timeout_s: float = 10.0) -> str:
    """The log once it holds `text` `count` times (stdout may reach the file just after the
    server answers its first request)."""
    deadline = time.monotonic() + timeout_s
    log = ""
    while time.monotonic() < deadline:
        log = server.log_path.read_text(errors="replace")
        if log.count(text) >= count:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not {count} times in the log:\n{log[-3000:]}")


@pytest.mark.engines("sqlite")
def test_serve_says_what_to_do_next_once_it_listens(server: ServerProcess) -> None:
    log = wait_for_log(server, "Another port", 1)
    first = log[log.index(BANNER) :]
    url = server.base_url

    assert log.count(BANNER) == 1
    assert f"{BANNER} {url}" in first
    assert f"candor user create NAME --password PASSWORD --data-dir {server.data_dir}" in first
    assert f"sign up in the browser at {url}/register" in first
    assert f"any Matrix app, with the homeserver {url}" in first
    assert "candor demo" in first
    assert "candor serve --port 8080" in first
    assert "CANDOR_HTTP__PORT=8080" in first
    banner_lines = first[: first.index("CANDOR_HTTP__PORT")].splitlines()
    assert len(banner_lines) <= 10

    server.env["CANDOR_REGISTRATION__ENABLED"] = "false"
    server.restart()
    log = wait_for_log(server, "Another port", 2)
    second = log[log.rindex(BANNER) :]

    assert log.count(BANNER) == 2
    assert "candor user create" in second
    assert "/register" not in second


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("CANDOR_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON)
@pytest.mark.engines("sqlite")
async def test_a_newcomer_signs_up_in_a_browser_and_learns_how_to_chat(
    server: ServerProcess, shots: Path
) -> None:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                context = await browser.new_context(viewport={"width": width, "height": 900})
                page = await context.new_page()
                page.on("console", on_console)
                for path, name in (("/", "home"), ("/register", "register")):
                    await page.goto(server.base_url + path)
                    await page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)
                    overflow = await page.evaluate(
                        "document.documentElement.scrollWidth > window.innerWidth"
                    )
                    assert not overflow, f"{path} overflows at {width} px"
                await context.close()

            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            page.on("console", on_console)
            await page.goto(server.base_url + "/")
            await page.get_by_role("link", name="Sign up").first.click()
            await expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
            await page.get_by_label("Username").fill("nora")
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.get_by_label("Password again").fill(PASSWORD)
            await page.get_by_role("button", name="Sign up").click()

            await expect(page.get_by_role("heading", name="Start chatting")).to_be_visible()
            await expect(page.locator("main")).to_contain_text("@nora:localhost")
            await expect(page.locator("main code")).to_have_text(server.base_url)
            await page.screenshot(path=shots / "welcome-1280.png", full_page=True)
            await page.goto(server.base_url + "/")
            await page.screenshot(path=shots / "home-logged-in-1280.png", full_page=True)
            await expect(page.locator(".nav-user")).to_contain_text("@nora:localhost")
            await context.close()
        finally:
            await browser.close()
    assert errors == []
