"""Logging in and out of the web pages, on both engines: the cookie's flags and signature,
wrong passwords, session rotation, logout ending the session on the server, expiry, and
`next` never leading off the site."""

import re
from pathlib import Path

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.matrix.moderation.repository import set_restriction
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    WebTestClient,
    csrf_token_in,
    set_cookie_headers,
)
from tests.web.conftest import PASSWORD, WebEnv

LOGIN_FAILED = "That username and password do not match"


async def test_the_login_page_has_labelled_fields_a_button_and_a_csrf_token(web: WebEnv) -> None:
    r = await web.browser().get("/login")

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<label for="field-username">Username</label>' in r.text
    assert '<label for="field-password">Password</label>' in r.text
    assert 'id="field-password" name="password" type="password"' in r.text
    assert '<button type="submit" class="button-primary">Log in</button>' in r.text
    assert csrf_token_in(r.text)
    (cookie,) = set_cookie_headers(r, CSRF_COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_login_sets_an_httponly_lax_signed_session_cookie(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()

    r = await browser.login("alice")

    assert r.status_code == 303
    assert r.headers["location"] == "/"
    (cookie,) = set_cookie_headers(r, SESSION_COOKIE)
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes
    assert "SameSite=lax" in attributes
    assert "Path=/" in attributes
    assert "Secure" not in attributes  # plain http here; see the https test
    assert f"Max-Age={14 * 24 * 3600}" in attributes
    value = browser.session_cookie
    assert value is not None
    token, _, signature = value.rpartition(".")
    assert token.startswith("cdr_ws_")
    assert signature
    assert await web.sessions.count_sessions(alice.user_id) == 1
    home = await browser.get("/")
    assert f"Logged in as <strong>{alice.user_id}</strong>" in home.text


async def test_the_cookie_is_secure_over_https(web: WebEnv, alice: MatrixTestClient) -> None:
    r = await web.browser("https://test.local").login("alice")

    assert r.status_code == 303
    (cookie,) = set_cookie_headers(r, SESSION_COOKIE)
    assert "Secure" in [part.strip() for part in cookie.split(";")]


async def test_a_full_user_id_logs_in_too(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()

    r = await browser.login(alice.user_id)

    assert r.status_code == 303
    assert "Logged in as" in (await browser.get("/")).text


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong horse"),
        ("nobody", PASSWORD),
        ("@alice:elsewhere.example", PASSWORD),
        ("@", PASSWORD),
        ("alice", ""),
        ("", PASSWORD),
        ("alice", "x" * 600),
    ],
)
async def test_a_wrong_login_shows_the_form_again_and_starts_no_session(
    web: WebEnv, alice: MatrixTestClient, username: str, password: str
) -> None:
    browser = web.browser()

    r = await browser.login(username, password)

    assert r.status_code == 400
    assert LOGIN_FAILED in r.text
    assert 'role="alert"' in r.text
    assert set_cookie_headers(r, SESSION_COOKIE) == []
    assert browser.session_cookie is None
    assert await web.sessions.count_sessions(alice.user_id) == 0
    # The password is never echoed; the username is, escaped.
    assert password not in r.text or not password
    assert csrf_token_in(r.text)


async def test_the_username_is_escaped_when_shown_again(web: WebEnv) -> None:
    r = await web.browser().login('<script>alert("x")</script>', "nope")

    assert r.status_code == 400
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in r.text


async def test_a_tampered_session_cookie_is_refused(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()
    await browser.login("alice")
    value = browser.session_cookie
    assert value is not None
    token, _, signature = value.rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]

    for forged in (f"{token}.{flipped}", token, f"{token[:-1]}x.{signature}", "garbage"):
        browser.set_session_cookie(forged)
        r = await browser.get("/privacy/accesses")
        assert r.status_code == 303, forged
        assert r.headers["location"] == "/login?next=/privacy/accesses"


async def test_logout_ends_the_session_on_the_server(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()
    await browser.login("alice")
    old_cookie = browser.session_cookie
    assert old_cookie is not None

    r = await browser.logout()

    assert r.status_code == 303
    assert r.headers["location"] == "/login?logged_out=1"
    (cleared,) = set_cookie_headers(r, SESSION_COOKIE)
    assert "Max-Age=0" in cleared
    assert await web.sessions.count_sessions(alice.user_id) == 0
    assert "You have logged out." in (await browser.get("/login?logged_out=1")).text
    # Replaying the old cookie (say, copied before logout) gets nothing.
    replay = web.browser()
    replay.set_session_cookie(old_cookie)
    r = await replay.get("/privacy/accesses")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_logging_in_again_rotates_the_session(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()
    await browser.login("alice")
    first = browser.session_cookie

    r = await browser.login("alice")

    assert r.status_code == 303
    second = browser.session_cookie
    assert second is not None
    assert second != first
    assert await web.sessions.count_sessions(alice.user_id) == 1
    stale = web.browser()
    assert first is not None
    stale.set_session_cookie(first)
    assert (await stale.get("/privacy/accesses")).status_code == 303
    assert (await browser.get("/privacy/accesses")).status_code == 200


async def test_a_planted_session_cookie_is_not_kept_by_login(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """Session fixation: a victim logging in never ends up in a session chosen beforehand."""
    attacker = web.browser()
    await attacker.login("bob")
    planted = attacker.session_cookie
    assert planted is not None
    victim = web.browser()
    victim.set_session_cookie(planted)

    await victim.login("alice")

    assert victim.session_cookie != planted
    assert "@alice:test.local" in (await victim.get("/")).text
    assert (await attacker.get("/privacy/accesses")).status_code == 303


async def test_a_session_expires_after_fourteen_days(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()
    await browser.login("alice")
    web.clock.advance(13 * 24 * 3600)
    assert (await browser.get("/privacy/accesses")).status_code == 200

    web.clock.advance(2 * 24 * 3600)

    r = await browser.get("/privacy/accesses")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_a_logged_in_visit_to_the_login_page_goes_on(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    await browser.login("alice")

    r = await browser.get("/login?next=/privacy/accesses")

    assert r.status_code == 303
    assert r.headers["location"] == "/privacy/accesses"


async def test_next_brings_the_person_back_to_a_local_page(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    first = await browser.get("/privacy/accesses?limit=5")
    assert first.status_code == 303
    login_page = await browser.get(first.headers["location"])
    assert 'name="next" value="/privacy/accesses?limit=5"' in login_page.text

    r = await browser.login("alice", next_path="/privacy/accesses?limit=5")

    assert r.status_code == 303
    assert r.headers["location"] == "/privacy/accesses?limit=5"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\tevil",
        "/\n/evil.example",
        "/%0a",
        "/" + "a" * 3000,
        "/\u00e9",
    ],
)
async def test_next_never_leads_off_the_site(
    web: WebEnv, alice: MatrixTestClient, target: str
) -> None:
    browser = web.browser()
    login_page = await browser.http.get("/login", params={"next": target})
    assert login_page.status_code == 200
    shown = re.search(r'name="next" value="([^"]*)"', login_page.text)
    assert shown is not None

    r = await browser.login("alice", next_path=target)

    assert r.status_code == 303
    location = r.headers["location"]
    if target == "/%0a":  # a local path, left encoded: harmless
        assert location == "/%0a"
    else:
        assert location == "/"
        assert shown.group(1) == "/"


async def test_too_many_attempts_are_slowed_down(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        rate_limit={"enabled": True, "per_second": 0.01, "burst": 2},
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.services.accounts.create_user("alice", PASSWORD, admin=False)
        browser = WebTestClient(httpx.ASGITransport(app=app))
        try:
            statuses = [(await browser.login("alice", "wrong")).status_code for _ in range(3)]
            limited = await browser.login("alice", PASSWORD)
        finally:
            await browser.aclose()

    assert statuses == [400, 400, 429]
    assert limited.status_code == 429
    assert "Too many login attempts" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert browser.session_cookie is None


async def test_logging_out_without_a_session_just_goes_to_the_login_page(web: WebEnv) -> None:
    browser = web.browser()
    token = await browser.csrf_token("/login")

    r = await browser.post_form("/logout", {"csrf_token": token})

    assert r.status_code == 303
    assert r.headers["location"] == "/login?logged_out=1"


async def test_a_new_password_ends_every_browser_session(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    await browser.login("alice")
    assert (await browser.get("/privacy/accesses")).status_code == 200
    challenge = (
        await alice.request("POST", "/account/password", json={"new_password": "new pw"})
    ).json()
    auth = {
        "type": "m.login.password",
        "session": challenge["session"],
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": PASSWORD,
    }

    await alice.ok("POST", "/account/password", json={"new_password": "new pw", "auth": auth})

    assert await web.sessions.count_sessions(alice.user_id) == 0
    r = await browser.get("/privacy/accesses")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def _lock(web: WebEnv, user_id: str, locked: bool) -> None:
    async with web.hs.db.write() as conn:
        await set_restriction(conn, user_id, locked, False, "@root:test.local", 0)


async def test_a_lock_ends_the_web_session_and_refuses_a_new_one(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    """An administrator's lock holds on Candor's own pages too (the privacy dashboard,
    the consent pages): the session ends at once, and logging in says why."""
    browser = web.browser()
    assert (await browser.login("alice")).status_code == 303
    assert (await browser.get("/privacy/accesses")).status_code == 200

    await _lock(web, alice.user_id, True)
    r = await browser.get("/privacy/accesses")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    refused = await browser.login("alice")
    assert refused.status_code == 403
    assert "This account has been locked" in refused.text
    wrong = await browser.login("alice", password="not it")
    assert wrong.status_code == 400
    assert LOGIN_FAILED in wrong.text
    assert "locked" not in wrong.text

    await _lock(web, alice.user_id, False)
    assert (await browser.login("alice")).status_code == 303
    assert (await browser.get("/privacy/accesses")).status_code == 200
