"""The report pages in a real browser over a real `candor serve`: alice registers an app in
the portal (Debian's chromium, Playwright), an operator approves it, alice sets a webhook on
a loopback receiver and copies the secret shown once; `candor reports run` makes a report,
the server's delivery worker posts it, the receiver verifies it with that secret, and the
portal shows the delivery, its attempt and the report's downloads."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from playwright.async_api import async_playwright, expect
from standardwebhooks import Webhook

from tests.e2e.conftest import ServerProcess
from tests.e2e.oauth_flow import PASSWORD, candor, register_person
from tests.e2e.portal_ui import register_app_in_portal
from tests.e2e.webhook_receiver import WebhookReceiver, running_receiver

# The browser is the subject, not the database: SQLite (test_web_accesses_browser is the PostgreSQL smoke).
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.engines("sqlite"),
    pytest.mark.loopback_webhooks,
    pytest.mark.timeout(180),
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver(fail_first=0) as server:
        yield server


async def test_webhook_secret_once_delivery_and_downloads(
    server: ServerProcess, receiver: WebhookReceiver
) -> None:
    await register_person(server, "alice")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(accept_downloads=True)).new_page()
            await page.goto(f"{server.base_url}/login?next=/partners/portal")
            await page.get_by_label("Username").fill("alice")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            client_id = await register_app_in_portal(page, server.base_url)
            candor(server, "partner", "approve", client_id)

            await page.goto(f"{server.base_url}/partners/portal")
            await page.get_by_role("link", name="Reports, webhook and deliveries").click()
            await expect(page.get_by_role("heading", name="Reports for Flix")).to_be_visible()
            await expect(page.get_by_text("No report yet")).to_be_visible()

            await page.get_by_label("Webhook URL").fill("ftp://flix.example/hook")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("alert")).to_contain_text("https")

            await page.get_by_label("Webhook URL").fill(receiver.url)
            await page.get_by_role("button", name="Save").click()
            secret = await page.locator("#webhook-secret").inner_text()
            assert secret.startswith("whsec_")
            # The form's answer redirected to the reports page: reloading it posts nothing
            # and shows the secret no more.
            assert page.url.endswith("/reports?saved=1"), page.url
            reports_url = page.url.removesuffix("?saved=1")
            await page.reload()
            assert "whsec_" not in await page.content()
            await expect(page.get_by_text("shown once")).to_be_visible()

            yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
            out = candor(server, "reports", "run", "--app", client_id, "--period-end", yesterday)
            assert client_id in out or "rpt_" in out, out

            # The server's delivery worker polls at least every 5 s.
            for _ in range(60):
                if receiver.received:
                    break
                await page.wait_for_timeout(500)
            assert len(receiver.received) == 1
            body, headers = receiver.received[0]
            Webhook(secret).verify(body, headers)
            report_id = json.loads(body)["data"]["report"]["report_id"]

            await page.goto(reports_url)
            await expect(page.get_by_text(f"{report_id}: delivered")).to_be_visible()
            await expect(page.get_by_text("HTTP 204")).to_be_visible()
            async with page.expect_download() as info:
                await page.locator(f'a[href$="/{report_id}.json"]').click()
            download = await info.value
            assert download.suggested_filename == f"{report_id}.json"
            saved = json.loads(await anyio.Path(await download.path()).read_bytes())
            assert saved["report_id"] == report_id
            assert saved["app"]["client_id"] == client_id
        finally:
            await browser.close()
