"""Every page at a desktop (1280 px) and a phone (390 px) width in a real browser (Debian's
chromium, Playwright) over one real `candor serve`: nothing is wider than the screen, and
every checkbox and radio sits on the same line as its label. A screenshot of each page at
each width is saved in the test's tmp dir for people to look at."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.e2e.conftest import ServerProcess
from tests.e2e.oauth_flow import (
    PASSWORD,
    authorization_url,
    candor,
    oauth_client,
    register_app,
    register_person,
)
from tests.e2e.portal_ui import register_app_in_portal
from tests.e2e.test_web_accesses_browser import make_admin
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON

# The layout is the subject, not the database: SQLite only, one server, one browser.
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(240)]

if not CHROMIUM.exists():
    pytest.skip(SKIP_REASON, allow_module_level=True)

WIDTHS = (1280, 390)

# Run in the page: every element whose right edge passes the viewport (the document's own
# scroll width first), and every checkbox/radio whose box does not overlap its label's.
LAYOUT_PROBLEMS = """() => {
  const width = window.innerWidth;
  const problems = [];
  const scrolling = document.scrollingElement.scrollWidth;
  if (scrolling > width) problems.push(`page scrolls sideways: ${scrolling} > ${width}`);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 0.5) problems.push(`${name(el)} ends at ${box.right} > ${width}`);
  }
  for (const box of document.querySelectorAll('input[type="checkbox"], input[type="radio"]')) {
    const mine = box.getBoundingClientRect();
    if (box.labels.length === 0) { problems.push(`${name(box)} has no label`); continue; }
    for (const label of box.labels) {
      const line = label.getClientRects()[0];
      if (!line || line.bottom <= mine.top || mine.bottom <= line.top) {
        problems.push(`${name(box)} is not on a line with its label "${label.textContent.trim().slice(0, 40)}"`);
      }
    }
  }
  return problems;
}"""


async def _check(page: Page, label: str, shots: Path) -> list[str]:
    problems: list[str] = []
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(shots / f"{label}-{width}.png"), full_page=True)
        found: list[str] = await page.evaluate(LAYOUT_PROBLEMS)
        problems += [f"{label} at {width} px: {p}" for p in found]
    return problems


async def test_every_page_fits_both_widths_and_boxes_sit_with_their_labels(
    server: ServerProcess, tmp_path: Path
) -> None:
    make_admin(server)
    await register_person(server, "alice")
    consent_app = register_app(server)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            base = server.base_url
            anonymous = ["/", "/login", "/register", "/partners"]
            for path in anonymous:
                answer = await page.goto(base + path)
                assert answer is not None
                if path == "/register" and answer.status == 404:
                    continue  # no sign-up page on this branch
                assert answer.status == 200, (path, answer.status)
                problems += await _check(page, "anon" + path.replace("/", "_"), shots)

            await page.goto(f"{base}/login")
            await page.get_by_label("Username").fill("root")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await expect(page.locator(".nav-user")).to_be_visible()

            client_id = await register_app_in_portal(page, base)
            problems += await _check(page, "portal_created", shots)
            candor(server, "partner", "approve", client_id)
            yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
            candor(server, "reports", "run", "--app", client_id, "--period-end", yesterday)

            for path in [
                "/",
                "/privacy/accesses",
                "/privacy/grants",
                "/privacy/shares",
                "/privacy/apps",
                "/partners/portal",
                f"/partners/portal/apps/{client_id}/reports",
                "/admin/partners",
                "/partners",
            ]:
                answer = await page.goto(base + path)
                assert answer is not None, path
                assert answer.status == 200, path
                problems += await _check(page, "user" + path.replace("/", "_"), shots)

            async with oauth_client(server, consent_app) as client:
                url, _, _ = authorization_url(server, client)
                answer = await page.goto(url)
                assert answer is not None
                assert answer.status == 200
                await expect(page.get_by_role("button", name="Allow")).to_be_visible()
                problems += await _check(page, "consent", shots)

            # The report page is a download (a standalone file): open its HTML as a page.
            await page.goto(f"{base}/partners/portal/apps/{client_id}/reports")
            link = page.locator('a[href$=".html"]').first
            href = await link.get_attribute("href")
            assert href is not None
            report = await page.request.get(base + href)
            assert report.status == 200
            # Served inline, with the download's own headers (its CSP allows its inline CSS).
            body = await report.body()
            headers = {
                k: v for k, v in report.headers.items() if k.lower() != "content-disposition"
            }
            view = f"{base}/report-view.html"
            await page.route(view, lambda route: route.fulfill(body=body, headers=headers))
            await page.goto(view)
            await expect(page.get_by_text("Total (released cells)")).to_be_visible()
            problems += await _check(page, "report", shots)
        finally:
            await browser.close()
    assert not problems, "\n".join(problems[:40])
