"""CSRF on every form, on both engines: a forged login or logout is refused with 403 and
changes nothing; tokens are bound to the browser (cookie) or session they were made for."""

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from candor.web.csrf import CsrfFailed, anonymous_csrf_token, check_csrf_token, session_csrf_token
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import SESSION_COOKIE, csrf_token_in, set_cookie_headers
from tests.web.conftest import PASSWORD, WebEnv

REFUSED = "This form has expired or did not come from this site"


def _assert_refused(r_status: int, text: str) -> None:
    assert r_status == 403
    assert REFUSED in text
    assert "<!doctype html>" in text


@pytest.mark.parametrize("token", [None, "", "0" * 64, "not-a-token"])
async def test_a_login_without_the_right_token_is_refused(
    web: WebEnv, alice: MatrixTestClient, token: str | None
) -> None:
    browser = web.browser()
    await browser.get("/login")  # the browser has its CSRF cookie
    data = {"username": "alice", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token

    r = await browser.post_form("/login", data)

    _assert_refused(r.status_code, r.text)
    assert set_cookie_headers(r, SESSION_COOKIE) == []
    assert await web.sessions.count_sessions(alice.user_id) == 0


async def test_a_token_without_its_cookie_is_refused(web: WebEnv, alice: MatrixTestClient) -> None:
    """Login CSRF: another site can fetch a token for itself, but not for the victim's browser."""
    attacker = web.browser()
    token = await attacker.csrf_token("/login")
    victim = web.browser()

    r = await victim.post_form(
        "/login", {"username": "alice", "password": PASSWORD, "csrf_token": token}
    )

    _assert_refused(r.status_code, r.text)
    assert await web.sessions.count_sessions(alice.user_id) == 0


async def test_a_body_that_is_not_a_form_is_refused(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = web.browser()
    token = await browser.csrf_token("/login")

    r = await browser.http.post(
        "/login", json={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )

    _assert_refused(r.status_code, r.text)
    assert await web.sessions.count_sessions(alice.user_id) == 0


@pytest.mark.parametrize("token", [None, "", "f" * 64])
async def test_a_logout_without_the_right_token_changes_nothing(
    web: WebEnv, alice: MatrixTestClient, token: str | None
) -> None:
    browser = web.browser()
    await browser.login("alice")

    r = await browser.post_form("/logout", {} if token is None else {"csrf_token": token})

    _assert_refused(r.status_code, r.text)
    assert set_cookie_headers(r, SESSION_COOKIE) == []
    assert await web.sessions.count_sessions(alice.user_id) == 1
    assert (await browser.get("/privacy/accesses")).status_code == 200


async def test_one_sessions_token_does_not_work_for_another(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    alices = web.browser()
    await alices.login("alice")
    bobs = web.browser()
    await bobs.login("bob")
    bobs_token = await bobs.csrf_token("/")

    r = await alices.post_form("/logout", {"csrf_token": bobs_token})

    _assert_refused(r.status_code, r.text)
    assert await web.sessions.count_sessions(alice.user_id) == 1
    assert await web.sessions.count_sessions(bob.user_id) == 1


async def test_a_logged_in_page_carries_the_sessions_token(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    anonymous_token = await browser.csrf_token("/login")
    await browser.login("alice")

    session_token = csrf_token_in((await browser.get("/")).text)

    assert session_token != anonymous_token
    assert (await browser.post_form("/logout", {"csrf_token": session_token})).status_code == 303
    assert await web.sessions.count_sessions(alice.user_id) == 0


_fields = st.dictionaries(
    st.sampled_from(["username", "password", "csrf_token", "next", "x"]) | st.text(max_size=5),
    st.text(max_size=30),
    max_size=5,
)


@pytest.mark.parametrize("path", ["/login", "/logout"])
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(
    body=st.one_of(
        st.binary(max_size=60),
        _fields.map(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()),
        st.sampled_from([b"%ff%fe=%00", b"a=%00", b"=&=&&", b"%", b"a=1&" * 60, "é=é".encode()]),
    ),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", ""]
    ),
)
async def test_garbage_posts_never_fail_the_server_or_change_anything(
    web: WebEnv, alice: MatrixTestClient, path: str, body: bytes, content_type: str
) -> None:
    browser = web.browser()
    await browser.get("/login")

    r = await browser.http.post(path, content=body, headers={"content-type": content_type})

    assert r.status_code in (400, 403), r.text
    assert r.headers["content-type"].startswith("text/html")
    assert await web.sessions.count_sessions(alice.user_id) == 0


def test_tokens_are_bound_to_their_secret_and_kind() -> None:
    key = b"k" * 32
    assert session_csrf_token(key, "a") != session_csrf_token(key, "b")
    assert session_csrf_token(key, "a") != anonymous_csrf_token(key, "a")
    assert session_csrf_token(key, "a") != session_csrf_token(b"j" * 32, "a")
    check_csrf_token(session_csrf_token(key, "a"), ["x", session_csrf_token(key, "a")])
    for submitted, expected in ((None, ["x"]), ("", [""]), ("x", []), ("x", ["y"])):
        with pytest.raises(CsrfFailed):
            check_csrf_token(submitted, expected)
