"""A person authorizes an app in a real browser: Debian's chromium (driven by Playwright,
no bundled browser) logs in on the login page and clicks **Allow** on the consent page;
a real OAuth client (authlib's AsyncOAuth2Client) completes the code + PKCE S256 flow,
refreshes, and is revoked; then the person sees the app on Connected apps and revokes it.

The redirect URI is a loopback URL: the browser's navigation there is intercepted with
`page.route`, which is where a real app would receive the code.
"""

import asyncio
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Response, Route, async_playwright, expect

from tests.e2e.conftest import ServerProcess
from tests.e2e.oauth_flow import (
    PASSWORD,
    authorization_url,
    exchange,
    oauth_client,
    register_app,
    register_person,
    revoke_and_introspect,
    use_rotate_and_reuse,
)

# The browser is the subject, not the database: SQLite (test_web_accesses_browser is the PostgreSQL smoke).
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(180)]

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

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)


async def test_a_person_clicks_allow_and_the_client_gets_tokens(
    server: ServerProcess, tmp_path: Path
) -> None:
    app = register_app(server)
    await register_person(server)
    problems: list[str] = []
    callbacks: asyncio.Queue[str] = asyncio.Queue()

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    async def at_the_app(route: Route) -> None:
        await callbacks.put(route.request.url)
        await route.fulfill(status=200, content_type="text/plain", body="back at the app")

    async def at_authorize(route: Route) -> None:
        """Playwright routes only the first URL of a redirect chain: so the answer of
        /oauth/authorize is fetched here, and a redirect to the app is caught here. The
        consent form's POST goes through untouched: the browser itself follows its 303
        (under the page's CSP `form-action`) to the app's route."""
        if route.request.method != "GET":
            await route.continue_()
            return
        answer = await route.fetch(max_redirects=0)
        location = answer.headers.get("location", "")
        if answer.status in (302, 303) and location.startswith(app.redirect_uri):
            await callbacks.put(location)
            await route.fulfill(status=200, content_type="text/plain", body="back at the app")
            return
        await route.fulfill(response=answer)

    async with oauth_client(server, app) as client, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            page.on("console", on_console)
            page.on("response", on_response)
            await context.route(f"{app.redirect_uri}**", at_the_app)
            await context.route(f"{server.base_url}/oauth/authorize**", at_authorize)

            url, state, verifier = authorization_url(server, client)
            await page.goto(url)
            assert page.url.startswith(f"{server.base_url}/login?next=")
            await page.get_by_label("Username").fill("alice")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()

            await expect(page.get_by_role("heading", level=1)).to_contain_text("Flix")
            await expect(page.get_by_text("Recommend films to friends")).to_be_visible()
            await expect(page.get_by_text("45 days")).to_be_visible()
            await expect(page.get_by_text("See your user ID and display name")).to_be_visible()
            share = page.get_by_label("Let you share recommendations", exact=False)
            await expect(share).to_be_checked()
            await page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
            await page.get_by_role("button", name="Allow").click()

            callback = await asyncio.wait_for(callbacks.get(), timeout=20)
            assert callback.startswith(app.redirect_uri + "?")
            token = await exchange(server, client, callback, state, verifier)
            await use_rotate_and_reuse(server, client, token)

            # Again: the consent stands, so the browser goes straight back to the app.
            url, state, verifier = authorization_url(server, client)
            await page.goto(url)
            callback = await asyncio.wait_for(callbacks.get(), timeout=20)
            token = await exchange(server, client, callback, state, verifier)
            client.token = token
            await revoke_and_introspect(server, client, token)

            # A third authorization, then the person revokes the app on Connected apps.
            url, state, verifier = authorization_url(server, client)
            await page.goto(url)
            callback = await asyncio.wait_for(callbacks.get(), timeout=20)
            token = await exchange(server, client, callback, state, verifier)
            await page.goto(f"{server.base_url}/privacy/apps")
            await expect(page.get_by_role("heading", name="Flix")).to_be_visible()
            await page.get_by_role("button", name="Revoke").click()
            await expect(page.get_by_text("No connected apps")).to_be_visible()
            async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as raw:
                me = await raw.get(
                    "/partner/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
                )
            assert me.status_code == 401
        finally:
            await browser.close()

    assert problems == []
