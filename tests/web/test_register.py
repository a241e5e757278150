"""The web sign-up (`/register`), on both engines: it is Matrix registration itself (the
same username rules, password policy, switch and per-address limit), checks CSRF first,
signs the new person in, and is neither served nor linked while registration is off."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from candor.app import create_app
from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import SESSION_COOKIE, WebTestClient, csrf_token_in, set_cookie_headers
from tests.web.conftest import PASSWORD, WebEnv

REGISTER = "/_matrix/client/v3/register"


async def sign_up(
    browser: WebTestClient, username: str, password: str = PASSWORD, again: str | None = None
) -> httpx.Response:
    page = await browser.get("/register")
    assert page.status_code == 200, page.text
    return await browser.post_form(
        "/register",
        {
            "username": username,
            "password": password,
            "password_again": password if again is None else again,
            "csrf_token": csrf_token_in(page.text),
        },
    )


@asynccontextmanager
async def app_with(
    tmp_path: Path, database_url: str, **overrides: object
) -> AsyncIterator[tuple[httpx.AsyncClient, WebTestClient]]:
    """The app with other settings: a Matrix client and a browser on the same address."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        server_name="test.local",
        http={"public_base_url": "http://test.local"},
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as api:
            browser = WebTestClient(transport)
            try:
                yield api, browser
            finally:
                await browser.aclose()


async def test_the_form_has_labelled_fields_and_a_csrf_token(web: WebEnv) -> None:
    r = await web.browser().get("/register")

    assert r.status_code == 200
    assert '<label for="field-username">Username</label>' in r.text
    assert '<label for="field-password">Password</label>' in r.text
    assert '<label for="field-password_again">Password again</label>' in r.text
    assert 'autocomplete="new-password"' in r.text
    assert csrf_token_in(r.text)


async def test_signing_up_signs_in_and_says_how_to_chat(web: WebEnv) -> None:
    browser = web.browser()

    r = await sign_up(browser, "Dora")

    assert r.status_code == 303
    assert r.headers["location"] == "/welcome"
    assert set_cookie_headers(r, SESSION_COOKIE)
    welcome = await browser.get("/welcome")
    assert welcome.status_code == 200
    assert "<strong>@dora:test.local</strong>" in welcome.text
    assert "<code>http://test.local</code>" in welcome.text
    assert "Element" in welcome.text
    home = await browser.get("/")
    assert "Logged in as <strong>@dora:test.local</strong>" in home.text
    # The account is a Matrix account: the same password logs in there.
    login = await web.api.post(
        "/_matrix/client/v3/login",
        json={"type": "m.login.password", "user": "dora", "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    assert login.json()["user_id"] == "@dora:test.local"
    # No Matrix device was made for the web sign-up.
    devices = await web.api.get(
        "/_matrix/client/v3/devices",
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert len(devices.json()["devices"]) == 1


async def test_a_taken_username_is_refused_and_changes_nothing(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()

    r = await sign_up(browser, "alice", "another password")

    assert r.status_code == 400
    assert "That username is taken" in r.text
    assert 'value="alice"' in r.text
    assert browser.session_cookie is None
    assert (await web.browser().login("alice", "another password")).status_code == 400
    assert (await web.browser().login("alice")).status_code == 303


async def test_a_bad_username_is_refused_with_the_rules(web: WebEnv) -> None:
    for bad in ("bad name", "émile", "x" * 300, "@someone:elsewhere", "  "):
        browser = web.browser()
        r = await sign_up(browser, bad)

        assert r.status_code == 400, bad
        assert "That username cannot be used" in r.text
        assert browser.session_cookie is None


async def test_an_empty_password_is_refused_by_the_matrix_policy(web: WebEnv) -> None:
    browser = web.browser()

    r = await sign_up(browser, "erin", "")

    assert r.status_code == 400
    assert "Choose a password" in r.text
    assert browser.session_cookie is None
    available = await web.api.get("/_matrix/client/v3/register/available?username=erin")
    assert available.status_code == 200


async def test_two_different_passwords_are_refused(web: WebEnv) -> None:
    browser = web.browser()

    r = await sign_up(browser, "frank", PASSWORD, "correct horsf")

    assert r.status_code == 400
    assert "The two passwords are not the same" in r.text
    assert 'value="frank"' in r.text
    available = await web.api.get("/_matrix/client/v3/register/available?username=frank")
    assert available.status_code == 200


async def test_a_sign_up_without_its_csrf_token_is_refused_first(web: WebEnv) -> None:
    browser = web.browser()
    await browser.get("/register")

    missing = await browser.post_form(
        "/register", {"username": "gina", "password": PASSWORD, "password_again": PASSWORD}
    )
    forged = await browser.post_form(
        "/register",
        {"username": "gina", "password": PASSWORD, "password_again": PASSWORD, "csrf_token": "x"},
    )

    assert missing.status_code == 403
    assert forged.status_code == 403
    assert browser.session_cookie is None
    available = await web.api.get("/_matrix/client/v3/register/available?username=gina")
    assert available.status_code == 200


async def test_the_home_and_login_pages_link_to_sign_up(web: WebEnv) -> None:
    browser = web.browser()

    for path in ("/", "/login"):
        r = await browser.get(path)
        assert 'href="/register"' in r.text, path


async def test_a_logged_in_visit_goes_to_the_welcome_page(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = web.browser()
    await browser.login("alice")

    r = await browser.get("/register")

    assert r.status_code == 303
    assert r.headers["location"] == "/welcome"


async def test_the_welcome_page_needs_a_login(web: WebEnv) -> None:
    r = await web.browser().get("/welcome")

    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/welcome"


async def test_while_registration_is_off_the_page_refuses_and_nothing_links_to_it(
    tmp_path: Path, database_url: str
) -> None:
    async with app_with(tmp_path, database_url, registration={"enabled": False}) as (
        api,
        browser,
    ):
        page = await browser.get("/register")
        token = csrf_token_in((await browser.get("/login")).text)
        posted = await browser.post_form(
            "/register",
            {
                "username": "hal",
                "password": PASSWORD,
                "password_again": PASSWORD,
                "csrf_token": token,
            },
        )
        home = await browser.get("/")
        login = await browser.get("/login")
        available = await api.get("/_matrix/client/v3/register/available?username=hal")

    assert page.status_code == 403
    assert "Sign-up is closed" in page.text
    assert posted.status_code == 403
    assert "Sign-up is closed" in posted.text
    assert browser.session_cookie is None
    assert available.status_code == 200
    assert "/register" not in home.text
    assert "/register" not in login.text
    assert 'href="/login"' in home.text


async def test_the_web_and_matrix_sign_ups_share_one_limit_per_address(
    tmp_path: Path, database_url: str
) -> None:
    async with app_with(
        tmp_path, database_url, rate_limit={"enabled": True, "per_second": 0.01, "burst": 3}
    ) as (api, browser):
        for name in ("ivy", "jack"):
            r = await api.post(
                REGISTER,
                json={"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
            )
            assert r.status_code == 200, r.text
        first = await sign_up(browser, "kim")
        await browser.logout()
        refused = await sign_up(browser, "lee")
        matrix_refused = await api.post(
            REGISTER,
            json={"username": "mia", "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        available = await api.get("/_matrix/client/v3/register/available?username=lee")

    assert first.status_code == 303
    assert refused.status_code == 429
    assert "Too many sign-ups" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert matrix_refused.status_code == 429
    assert matrix_refused.json()["errcode"] == "M_LIMIT_EXCEEDED"
    assert available.status_code == 200
