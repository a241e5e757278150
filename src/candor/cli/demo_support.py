"""What `candor demo` is made of below the story: its clock, and people who use the real
HTTP API and web pages (a Matrix access token and a browser session each).

Nothing here reaches into the server's services: every step is a request a Matrix client,
a browser or a partner app would make, so the demo shows the product as it is used.
"""

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

V3 = "/_matrix/client/v3"
PASSWORD = "candor demo"  # noqa: S105 - every demo person's, printed at the end
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
TIMEOUT = httpx.Timeout(30.0)
# Any: a JSON answer the demo reads by key path; a wrong shape fails the demo loudly.
JsonAnswer = dict[str, Any]


class DemoFailed(Exception):
    """A step of the story did not turn out as the product promises."""


def expect(ok: bool, what: str) -> None:
    if not ok:
        raise DemoFailed(what)


class DemoClock:
    """Real time plus an offset the demo moves, so two weeks happen in a minute.

    `monotonic` stays real: durations and rate limits must not jump with the story.
    """

    def __init__(self) -> None:
        self._offset_ms = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self._offset_ms

    def monotonic(self) -> float:
        return time.monotonic()

    def set(self, when: datetime) -> None:
        """From now on the server's time is `when`, and flows on from there."""
        self._offset_ms = int(when.timestamp() * 1000) - time.time_ns() // 1_000_000


def csrf_in(html: str) -> str:
    found = CSRF_RE.search(html)
    expect(found is not None, "a form came without its CSRF token")
    assert found is not None  # noqa: S101 - for mypy; expect() raised otherwise
    return unescape(found.group(1))


def check(r: httpx.Response, status: int, what: str) -> httpx.Response:
    if r.status_code != status:
        raise DemoFailed(f"{what}: HTTP {r.status_code} {r.text[:300]}")
    return r


@dataclass
class Person:
    """One person: a Matrix client (access token) and a browser (cookie session)."""

    name: str
    base_url: str
    user_id: str = ""
    token: str = ""
    browser: httpx.AsyncClient = field(init=False)
    api: httpx.AsyncClient = field(init=False)
    _txn: int = 0

    def __post_init__(self) -> None:
        self.browser = httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT)
        self.api = httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT)

    async def aclose(self) -> None:
        await self.browser.aclose()
        await self.api.aclose()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def register(self) -> None:
        r = await self.api.post(
            f"{V3}/register",
            json={
                "username": self.name,
                "password": PASSWORD,
                "auth": {"type": "m.login.dummy"},
                "initial_device_display_name": f"{self.name}'s demo client",
            },
        )
        body = check(r, 200, f"registering {self.name}").json()
        self.user_id, self.token = body["user_id"], body["access_token"]

    async def log_in_on_the_web(self) -> None:
        """The login form (anonymous CSRF cookie + field), then keep the session cookie."""
        page = check(await self.browser.get("/login"), 200, "the login page")
        r = await self.browser.post(
            "/login",
            data={"username": self.name, "password": PASSWORD, "csrf_token": csrf_in(page.text)},
        )
        check(r, 303, f"{self.name} logging in on the web")

    # --- Matrix client-server API ---------------------------------------------------------

    async def create_room(self, name: str, invite: list["Person"], **extra: object) -> str:
        body = {"name": name, "invite": [p.user_id for p in invite], **extra}
        r = await self.api.post(f"{V3}/createRoom", json=body, headers=self.auth)
        room_id: str = check(r, 200, f"creating {name}").json()["room_id"]
        return room_id

    async def join(self, room_id: str) -> None:
        r = await self.api.post(f"{V3}/rooms/{room_id}/join", json={}, headers=self.auth)
        check(r, 200, f"{self.name} joining {room_id}")

    async def say(self, room_id: str, text: str) -> str:
        self._txn += 1
        r = await self.api.put(
            f"{V3}/rooms/{room_id}/send/m.room.message/demo{self._txn}",
            json={"msgtype": "m.text", "body": text},
            headers=self.auth,
        )
        event_id: str = check(r, 200, f"{self.name} sending a message").json()["event_id"]
        return event_id

    async def recent(self, room_id: str, limit: int = 60) -> list[JsonAnswer]:
        r = await self.api.get(
            f"{V3}/rooms/{room_id}/messages",
            params={"dir": "b", "limit": limit},
            headers=self.auth,
        )
        chunk: list[JsonAnswer] = check(r, 200, "reading a room").json()["chunk"]
        return chunk

    async def candor(self, method: str, path: str, body: object = None) -> httpx.Response:
        """A call to Candor's own API (`/_candor/v1/…`) with the Matrix access token."""
        return await self.api.request(method, f"/_candor/v1{path}", json=body, headers=self.auth)

    # --- the share launcher and clicks (web session) ---------------------------------------

    async def share(self, app_id: str, card: dict[str, str], rooms: list[str]) -> None:
        """Open the launcher like the partner's button does, tick rooms, press Send."""
        query = {"app_id": app_id, **card}
        page = check(await self.browser.get("/share?" + urlencode(query)), 200, "the launcher")
        fields = {"csrf_token": csrf_in(page.text), **query, "image": "", "note": ""}
        fields.update({f"room_{i}": room for i, room in enumerate(rooms)})
        r = await self.browser.post("/share", data=fields)
        check(r, 200, f"{self.name} sharing through the launcher")
        expect("Sent to" in r.text, f"the launcher did not confirm {self.name}'s share")

    async def click(self, link: str) -> str:
        """Follow a card's link with this person's session: Candor counts it and redirects."""
        r = await self.browser.get(urlsplit(link).path)
        check(r, 302, f"{self.name} clicking a card")
        return r.headers["location"]


# --- OAuth 2.0 (authorization code + PKCE S256) as a confidential partner app --------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class PartnerApp:
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str


async def consent(person: Person, app: PartnerApp) -> tuple[str, str]:
    """The person's browser: /oauth/authorize → consent page → Allow. → (code, verifier)."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": app.scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    url = f"/oauth/authorize?{query}"
    page = check(await person.browser.get(url), 200, "the consent page")
    expect("StreamFlix" in page.text and ">Allow</button>" in page.text, "not a consent page")
    answer = {"csrf_token": csrf_in(page.text), "decision": "allow"}
    answer |= {f"scope:{s}": "on" for s in app.scopes.split() if s != "profile"}
    r = await person.browser.post(url, data=answer)
    check(r, 303, "allowing StreamFlix")
    callback = parse_qs(urlsplit(r.headers["location"]).query)
    expect(callback.get("state") == [state], "the callback's state is not the one sent")
    expect("code" in callback, f"no code in the callback: {r.headers['location']}")
    return callback["code"][0], verifier


async def token_request(http: httpx.AsyncClient, app: PartnerApp, **form: str) -> JsonAnswer:
    r = await http.post("/oauth/token", data=form, auth=(app.client_id, app.client_secret))
    body: JsonAnswer = check(r, 200, f"the token endpoint ({form['grant_type']})").json()
    return body
