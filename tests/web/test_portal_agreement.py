"""The portal's "Publish a new agreement version" form: the owner
publishes (the new version is public at once), anyone else gets the 403 page, an unknown
app the 404 page, and a missing CSRF token or bad terms change nothing.

On SQLite: pages hold no SQL (an import-linter contract); the services under them run on
both engines in their own tests."""

import re
from html import unescape

import pytest

from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import App, PartnerAppsService
from candor.wiring import build_services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient
from tests.web.conftest import WebEnv

pytestmark = pytest.mark.engines("sqlite")

PORTAL = "/partners/portal"
NEW_TERMS = {
    "purpose": "Recommend films and series",
    "data_used": "Share counts and clicks",
    "retention_days": "90",
    "reporting_days": "28",
}


def apps(web: WebEnv) -> PartnerAppsService:
    return build_services(web.hs).apps


def publish_path(app: App) -> str:
    return f"{PORTAL}/{app.client_id}/agreement"


async def logged_in(web: WebEnv, who: MatrixTestClient) -> WebTestClient:
    browser = web.browser()
    r = await browser.login(who.user_id)
    assert r.status_code == 303, r.text
    return browser


async def owned_app(web: WebEnv, owner: str, *, privacy: str = "k_anonymity") -> App:
    made = await apps(web).create(
        name="Flix",
        homepage="https://flix.example",
        contact="privacy@flix.example",
        redirect_uris=["https://flix.example/cb"],
        domains=["flix.example"],
        scopes="profile share",
        public=False,
        terms=AgreementTerms(
            "Recommend films",
            "Share counts",
            30,
            14,
            privacy,
            10,
            0.5 if privacy == "differential_privacy" else None,
        ),
        owner=owner,
    )
    return await apps(web).approve(made.app.client_id)


async def publish(
    browser: WebTestClient, app: App, **changes: str | None
) -> tuple[str, dict[str, str]]:
    data = {**NEW_TERMS, "csrf_token": await browser.csrf_token(PORTAL)}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return publish_path(app), data


async def test_the_portal_shows_a_prefilled_labelled_form_per_app(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)

    r = await browser.get(PORTAL)

    assert r.status_code == 200
    assert "<script" not in r.text
    assert "Publish a new agreement version" in r.text
    assert f'action="{publish_path(app)}"' in r.text
    ids = set(re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', r.text))
    labelled = set(re.findall(r'<label for="([^"]+)"', r.text))
    assert ids <= labelled
    prefix = f"field-{app.client_id}-"
    assert {f"{prefix}{f}" for f in NEW_TERMS} <= ids
    assert re.search(rf'id="{prefix}purpose"[^>]*>Recommend films</textarea>', r.text)
    assert re.search(rf'id="{prefix}retention_days"[^>]*value="30"', r.text)
    assert re.search(rf'id="{prefix}reporting_days"[^>]*value="14"', r.text)


async def test_the_owner_publishes_version_2_and_it_is_public(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id, privacy="differential_privacy")
    browser = await logged_in(web, alice)

    r = await browser.post_form(*await publish(browser, app))

    assert r.status_code == 200, r.text
    text = unescape(r.text)
    assert "Published version 2 of the agreement" in text
    assert "asked to consent again" in text
    changed = await apps(web).get(app.client_id)
    assert changed.agreement.version == 2
    assert changed.agreement.purpose == "Recommend films and series"
    assert changed.agreement.retention_days == 90
    assert changed.agreement.reporting_days == 28
    assert changed.agreement.privacy == "differential_privacy"  # the method carries over
    assert changed.agreement.epsilon == 0.5

    public = unescape((await web.browser().get("/partners")).text)
    assert "Recommend films and series" in public
    assert re.search(r"<dt>Agreement version</dt>\s*<dd>2</dd>", public)
    listed = (await web.api.get("/_candor/v1/partners")).json()["partners"]
    (flix,) = [p for p in listed if p["client_id"] == app.client_id]
    assert flix["agreement"]["version"] == 2
    assert flix["agreement"]["purpose"] == "Recommend films and series"


async def test_someone_else_gets_the_403_page_and_nothing_changes(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, bob)

    ok = await browser.post_form(*await publish(browser, app))
    bad = await browser.post_form(*await publish(browser, app, retention_days="soon"))
    mine = await browser.get(PORTAL)

    for r in (ok, bad):
        assert r.status_code == 403
        assert "text/html" in r.headers["content-type"]
        assert "Recommend films" not in r.text
    assert app.client_id not in mine.text
    assert (await apps(web).get(app.client_id)).agreement.version == 1


async def test_an_app_nobody_owns_is_refused_too(web: WebEnv, alice: MatrixTestClient) -> None:
    made = await apps(web).create(
        name="Operator app",
        homepage="https://op.example",
        contact="op@example.org",
        redirect_uris=["https://op.example/cb"],
        domains=[],
        scopes="profile",
        public=True,
        terms=AgreementTerms("p", "d"),
        owner=None,
    )
    browser = await logged_in(web, alice)

    r = await browser.post_form(*await publish(browser, made.app))

    assert r.status_code == 403
    assert (await apps(web).get(made.app.client_id)).agreement.version == 1


async def test_an_unknown_app_is_the_404_page(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = await logged_in(web, alice)
    token = await browser.csrf_token(PORTAL)

    r = await browser.post_form(f"{PORTAL}/app_nope/agreement", {**NEW_TERMS, "csrf_token": token})

    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]


@pytest.mark.parametrize("token", [None, "0" * 64])
async def test_publishing_needs_the_csrf_token(
    web: WebEnv, alice: MatrixTestClient, token: str | None
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)

    r = await browser.post_form(*await publish(browser, app, csrf_token=token))

    assert r.status_code == 403
    assert (await apps(web).get(app.client_id)).agreement.version == 1


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("purpose", "   ", "purpose"),
        ("data_used", None, "data"),
        ("retention_days", "a month", "whole number of days"),
        ("retention_days", "0", "etention"),
        ("reporting_days", "400", "eporting"),
    ],
)
async def test_bad_terms_show_the_form_again_and_change_nothing(
    web: WebEnv, alice: MatrixTestClient, field: str, value: str | None, words: str
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)

    r = await browser.post_form(*await publish(browser, app, **{field: value}))

    assert r.status_code == 400, r.text
    assert "text/html" in r.headers["content-type"]
    assert 'role="alert"' in r.text
    assert words.lower() in unescape(r.text).lower()
    assert "Publish a new agreement version" in r.text
    if field != "purpose":
        assert "Recommend films and series" in r.text  # what was typed is kept
    assert "Published version" not in r.text
    same = await apps(web).get(app.client_id)
    assert same.agreement.version == 1
    assert same.agreement.purpose == "Recommend films"
