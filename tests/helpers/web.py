"""WebTestClient: a browser-like client for Candor's pages (cookies, CSRF tokens, forms).

It keeps cookies like a browser (the httpx cookie jar), reads the CSRF token from the
page it just fetched (as a form would carry it) and never follows redirects on its own,
so tests can assert every 303 and Location.
"""

import re
from html import unescape

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
SESSION_COOKIE = "candor_session"
CSRF_COOKIE = "candor_csrf"


def csrf_token_in(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None, f"no CSRF field in the page: {html[:300]}"
    return unescape(found.group(1))


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


class WebTestClient:
    """One browser: its own cookie jar, on an app reached through `transport`."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, base_url: str = "http://test.local"
    ) -> None:
        self.http = httpx.AsyncClient(transport=transport, base_url=base_url)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def post_form(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data=data)

    async def csrf_token(self, path: str = "/login") -> str:
        r = await self.http.get(path)
        assert r.status_code == 200, r.text
        return csrf_token_in(r.text)

    async def login(
        self, username: str, password: str = "correct horse", next_path: str | None = None
    ) -> httpx.Response:
        page = await self.http.get("/login")
        if page.status_code == 303:  # logged in already: the login page moves on
            page = await self.http.get("/")
        data = {"username": username, "password": password, "csrf_token": csrf_token_in(page.text)}
        if next_path is not None:
            data["next"] = next_path
        return await self.post_form("/login", data)

    async def logout(self) -> httpx.Response:
        token = await self.csrf_token("/")
        return await self.post_form("/logout", {"csrf_token": token})

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)

    def set_session_cookie(self, value: str) -> None:
        self.http.cookies.set(SESSION_COOKIE, value, domain="test.local", path="/")
