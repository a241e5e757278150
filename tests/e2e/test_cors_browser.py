"""CORS in a real browser: a page on another origin calls a real `candor serve`.

The page (served on its own port, so its own origin) does what Element Web does on
start-up: reads `/versions`, registers with a JSON body and calls an authenticated
endpoint with a bearer token (both need a preflight), and reads an error. Chromium lets
the page read every answer. The same page cannot read the login page, and a request with
the browser's cookies to a cookie-authenticated page is refused by the browser too.
"""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import async_playwright

from tests.e2e.conftest import ServerProcess
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, SKIP_REASON

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(120)]

if not CHROMIUM.exists():
    pytest.skip(SKIP_REASON, allow_module_level=True)

PAGE = b"<!doctype html><title>another origin</title><p>a web client</p>"

# Runs in the page: each step's outcome, or the browser's refusal ("blocked: ...").
CALLS = """
async (base) => {
  const out = {};
  const read = async (name, path, init) => {
    try {
      const r = await fetch(base + path, init);
      out[name] = { status: r.status, body: await r.json() };
    } catch (e) {
      out[name] = { blocked: String(e) };
    }
  };
  await read("versions", "/_matrix/client/versions");
  await read("register", "/_matrix/client/v3/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: "eve", password: "correct horse",
                           auth: { type: "m.login.dummy" } }),
  });
  const token = out.register.body && out.register.body.access_token;
  await read("whoami", "/_matrix/client/v3/account/whoami", {
    headers: { Authorization: "Bearer " + token },
  });
  await read("error", "/_matrix/client/v3/account/whoami", {
    headers: { Authorization: "Bearer cdr_at_nope" },
  });
  try {
    await fetch(base + "/login", { credentials: "include" });
    out.login = "read";
  } catch (e) {
    out.login = "blocked";
  }
  try {
    await fetch(base + "/privacy/accesses", { method: "PUT", credentials: "include" });
    out.privacy = "sent";
  } catch (e) {
    out.privacy = "blocked";
  }
  return out;
}
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the page's results, not the access log."""


@pytest.fixture
def other_origin() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_page_on_another_origin_uses_the_matrix_api_but_not_the_pages(
    server: ServerProcess, other_origin: str
) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            await page.goto(other_origin)
            out = await page.evaluate(CALLS, server.base_url)
        finally:
            await browser.close()

    assert out["versions"]["status"] == 200
    assert "v1.11" in out["versions"]["body"]["versions"]
    assert out["register"]["status"] == 200, out
    assert out["whoami"]["status"] == 200
    assert out["whoami"]["body"]["user_id"] == "@eve:localhost"
    assert out["error"]["status"] == 401
    assert out["error"]["body"]["errcode"] == "M_UNKNOWN_TOKEN"
    assert out["login"] == "blocked"
    assert out["privacy"] == "blocked"
