"""A real OAuth client (authlib's AsyncOAuth2Client) against a real `candor serve`, with
a second httpx client as the browser posting the real login and consent forms.

The app is made with `candor partner create --json` and approved with the CLI; its
redirect URI is a loopback URL nobody listens on: the browser only reads the Location.
"""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc6749 import MismatchingStateException

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

# The OAuth flow is the subject, not the database: SQLite, with one PostgreSQL smoke below.
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(180)]

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found is not None, html[:500]
    return unescape(found.group(1))


async def log_in_and_allow(browser: httpx.AsyncClient, url: str) -> str:
    """The person's side: the login form, then the consent form's Allow. → callback URL."""
    r = await browser.get(url)
    assert r.status_code == 303
    login_path = r.headers["location"]
    assert login_path.startswith("/login?next=")
    page = await browser.get(login_path)
    assert page.status_code == 200
    for label in ("Username", "Password", "Log in"):
        assert label in page.text
    nxt = parse_qs(urlsplit(login_path).query)["next"][0]
    r = await browser.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": nxt,
        },
    )
    assert r.status_code == 303, r.text
    consent = await browser.get(r.headers["location"])
    assert consent.status_code == 200, consent.text
    for text in ("Flix", "Recommend films to friends", ">Allow</button>", ">Deny</button>"):
        assert text in consent.text
    # A forged CSRF token is refused and changes nothing.
    forged = await browser.post(
        r.headers["location"], data={"csrf_token": "forged", "decision": "allow"}
    )
    assert forged.status_code == 403
    r = await browser.post(
        r.headers["location"],
        data={"csrf_token": csrf_of(consent.text), "decision": "allow", "scope:share": "on"},
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]


@pytest.mark.engines("sqlite", "postgresql")  # the PostgreSQL smoke
async def test_authorization_code_with_pkce_through_the_real_forms(server: ServerProcess) -> None:
    app = register_app(server)
    await register_person(server)
    async with (
        oauth_client(server, app) as client,
        httpx.AsyncClient(base_url=server.base_url, timeout=20) as browser,
    ):
        url, state, verifier = authorization_url(server, client)
        callback = await log_in_and_allow(browser, url)
        assert callback.startswith(app.redirect_uri + "?")
        assert parse_qs(urlsplit(callback).query)["state"] == [state]

        # The client refuses a callback whose state is not the one it sent.
        forged = callback.replace(f"state={state}", "state=forged")
        with pytest.raises(MismatchingStateException):
            await client.fetch_token(
                f"{server.base_url}/oauth/token",
                authorization_response=forged,
                state=state,
                code_verifier=verifier,
            )

        token = await exchange(server, client, callback, state, verifier)
        await use_rotate_and_reuse(server, client, token)

        # Authorizing again: the consent stands, so the browser goes straight back.
        url, state, verifier = authorization_url(server, client)
        r = await browser.get(url)
        assert r.status_code == 302
        token = await exchange(server, client, r.headers["location"], state, verifier)
        client.token = token
        await revoke_and_introspect(server, client, token)


async def test_missing_pkce_and_a_pending_app_are_refused(server: ServerProcess) -> None:
    pending = register_app(server, approve=False)
    app = register_app(server)
    await register_person(server)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as browser:
        page = await browser.get("/login")
        r = await browser.post(
            "/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert r.status_code == 303
        base = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "state": "s1",
        }
        r = await browser.get("/oauth/authorize", params=base)
        assert r.status_code == 302
        assert "error=invalid_request" in r.headers["location"]
        r = await browser.get(
            "/oauth/authorize",
            params={**base, "code_challenge": "x" * 43, "code_challenge_method": "plain"},
        )
        assert "error=invalid_request" in r.headers["location"]
        r = await browser.get(
            "/oauth/authorize",
            params={**base, "redirect_uri": app.redirect_uri + "x", "code_challenge": "x" * 43},
        )
        assert r.status_code == 400
        assert "location" not in r.headers
        r = await browser.get(
            "/oauth/authorize",
            params={**base, "client_id": pending.client_id, "redirect_uri": pending.redirect_uri},
        )
        assert r.status_code == 400
        assert "location" not in r.headers
