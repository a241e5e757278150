"""The partner portal as a developer uses it in a browser: register the usual test app."""

import re

from playwright.async_api import Page, expect


async def register_app_in_portal(page: Page, base_url: str) -> str:
    """Fill in and send the portal's new-app form (Flix, asking for `share:`); returns the
    client id from the page that shows the secret once."""
    await page.goto(f"{base_url}/partners/portal")
    await page.get_by_label("App name").fill("Flix")
    await page.get_by_label("Homepage").fill("https://flix.example")
    await page.get_by_label("Contact").fill("privacy@flix.example")
    await page.get_by_label("Redirect URIs").fill("https://flix.example/cb")
    await page.get_by_label("Web domains").fill("flix.example")
    await page.get_by_label("share:", exact=False).check()
    await page.get_by_label("Purpose").fill("Recommend films to friends")
    await page.get_by_label("Data used").fill("Share and click counts")
    await page.get_by_label("Retention (days)").fill("30")
    await page.get_by_label("Reporting period (days)").fill("14")
    await page.get_by_role("button", name="Register app").click()
    await expect(page.get_by_role("heading", name="Flix is registered")).to_be_visible()
    await expect(page.locator("#client-secret")).to_be_visible()
    found = re.search(r"/partners/portal/apps/([^/]+)/created$", page.url)
    assert found is not None, page.url
    client_id = await page.locator("dl.facts code").first.inner_text()
    assert client_id == found.group(1), (client_id, page.url)
    assert client_id.startswith("app_"), client_id
    return client_id
