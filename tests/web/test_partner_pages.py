"""The partner portal, the public list of partner apps and the administrators' review
page: logged-in people register apps (the secret shown once), anyone
reads approved agreements, only administrators approve or suspend; every POST carries
a CSRF token, and a refused request changes nothing.

On SQLite: pages hold no SQL (an import-linter contract); the services under them run on
both engines in their own tests."""

import re
from html import unescape

import httpx
import pytest

from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import App, PartnerAppsService
from candor.wiring import build_services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.web.conftest import WebEnv

pytestmark = pytest.mark.engines("sqlite")

PORTAL = "/partners/portal"
FORM = {
    "name": "Flix",
    "homepage": "https://flix.example",
    "contact": "privacy@flix.example",
    "redirect_uris": "https://flix.example/cb\r\n\r\nhttp://127.0.0.1:8080/cb\r\n",
    "domains": "flix.example\r\n",
    "scope_profile": "on",
    "scope_share": "on",
    "purpose": "Recommend films to your friends",
    "data_used": "How often you share and your friends click",
    "retention_days": "30",
    "reporting_days": "14",
}
SECRET_RE = re.compile(r'<code id="client-secret">([^<]+)</code>')


def apps(web: WebEnv) -> PartnerAppsService:
    return build_services(web.hs).apps


async def logged_in(web: WebEnv, who: MatrixTestClient) -> WebTestClient:
    browser = web.browser()
    r = await browser.login(who.user_id)
    assert r.status_code == 303, r.text
    return browser


async def submit(browser: WebTestClient, **changes: str | None) -> httpx.Response:
    data = {**FORM, "csrf_token": await browser.csrf_token(PORTAL)}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return await browser.post_form(PORTAL, data)


async def registered(web: WebEnv, name: str = "Flix", owner: str | None = None) -> App:
    new = await apps(web).create(
        name=name,
        homepage="https://flix.example",
        contact="privacy@flix.example",
        redirect_uris=["https://flix.example/cb"],
        domains=["flix.example"],
        scopes="profile share",
        public=False,
        terms=AgreementTerms("Recommend films", "Share counts", 30, 14),
        owner=owner,
    )
    return new.app


# --- the portal -----------------------------------------------------------------------------


async def test_the_portal_needs_a_login(web: WebEnv) -> None:
    r = await web.browser().get(PORTAL)

    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


async def test_the_portal_form_labels_every_field(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = await logged_in(web, alice)

    r = await browser.get(PORTAL)

    assert r.status_code == 200
    assert "<script" not in r.text
    ids = set(re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', r.text))
    labelled = set(re.findall(r'<label for="([^"]+)"', r.text))
    assert ids
    assert ids <= labelled
    for field in ("name", "homepage", "contact", "redirect_uris", "domains", "purpose"):
        assert f'name="{field}"' in r.text
    assert 'name="scope_inbox.read"' in r.text
    assert 'name="public"' in r.text
    assert "You have not registered an app yet" in r.text


async def test_registering_shows_the_secret_once_and_the_app_waits(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    browser = await logged_in(web, alice)

    posted = await submit(browser)

    # Post/redirect/get: the POST's answer carries no secret, only the way to it.
    assert posted.status_code == 303, posted.text
    assert "cdr_cs_" not in posted.text
    (app,) = await apps(web).list_owned(alice.user_id)
    shown_at = f"/partners/portal/apps/{app.client_id}/created"
    assert posted.headers["location"] == shown_at
    r = await browser.get(shown_at)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    found = SECRET_RE.search(r.text)
    assert found is not None
    secret = unescape(found.group(1))
    assert secret.startswith("cdr_cs_")
    assert "shown only this once" in r.text
    (app,) = await apps(web).list_owned(alice.user_id)
    assert app.status == "pending"
    assert app.redirect_uris == ("http://127.0.0.1:8080/cb", "https://flix.example/cb")
    assert app.scopes == ("profile", "share")
    assert app.agreement.purpose == "Recommend films to your friends"
    assert await apps(web).check_secret(app, secret)

    # Reloading the page that showed it registers nothing and shows the secret no more.
    reloaded = await browser.get(shown_at)
    assert reloaded.status_code == 200
    assert SECRET_RE.search(reloaded.text) is None
    assert "cdr_cs_" not in reloaded.text
    assert "shown once" in reloaded.text
    assert len(await apps(web).list_owned(alice.user_id)) == 1

    page = await browser.get(PORTAL)
    assert secret not in page.text
    assert "Waiting for an administrator" in page.text
    assert app.client_id in page.text
    assert "https://flix.example/cb" in page.text
    assert "flix.example" in page.text
    assert "Recommend films to your friends" in page.text


async def test_a_public_client_gets_no_secret(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = await logged_in(web, alice)

    posted = await submit(browser, public="on", **{"scope_inbox.read": "on"})

    assert posted.status_code == 303, posted.text
    r = await browser.get(posted.headers["location"])
    assert r.status_code == 200, r.text
    assert SECRET_RE.search(r.text) is None
    assert "no secret" in r.text
    (app,) = await apps(web).list_owned(alice.user_id)
    assert app.is_public_client
    assert app.scopes == ("profile", "share", "inbox.read")
    assert "candor_once" not in posted.headers.get("set-cookie", "")


async def test_the_secret_page_is_the_owners_and_the_secret_this_sessions(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    """The one-time hand-over opens only for the session that registered the app: another
    person gets the 403 page, and the owner's other browser sees no secret."""
    browser = await logged_in(web, alice)
    posted = await submit(browser)
    shown_at = posted.headers["location"]

    other_person = await logged_in(web, bob)
    assert (await other_person.get(shown_at)).status_code == 403
    other_browser = await logged_in(web, alice)
    # Even carrying the first browser's sealed cookie, another session cannot open it.
    once = browser.http.cookies.get("candor_once")
    assert once is not None
    other_browser.http.cookies.set("candor_once", once, domain="test.local", path=shown_at)
    elsewhere = await other_browser.get(shown_at)
    assert elsewhere.status_code == 200
    assert SECRET_RE.search(elsewhere.text) is None

    assert SECRET_RE.search((await browser.get(shown_at)).text) is not None


async def test_the_portal_lists_only_my_apps(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await registered(web, "Bobs app", owner=bob.user_id)
    browser = await logged_in(web, alice)
    await submit(browser)

    r = await browser.get(PORTAL)

    assert "Flix" in r.text
    assert "Bobs app" not in r.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"redirect_uris": "http://flix.example/cb"}, "https"),
        ({"redirect_uris": "https://flix.example/cb#x"}, "fragment"),
        ({"redirect_uris": ""}, "redirect URI"),
        ({"domains": "not a domain"}, "domain"),
        ({"scope_profile": None, "scope_share": None}, "scope"),
        ({"name": ""}, "name"),
        ({"purpose": ""}, "purpose"),
        ({"retention_days": "forever"}, "whole number"),
        ({"reporting_days": "0"}, "reporting"),
    ],
)
async def test_bad_input_shows_the_form_again_and_writes_nothing(
    web: WebEnv, alice: MatrixTestClient, changes: dict[str, str | None], message: str
) -> None:
    browser = await logged_in(web, alice)

    r = await submit(browser, **changes)

    assert r.status_code == 400, r.text
    assert 'role="alert"' in r.text
    assert message in unescape(r.text)
    assert 'value="privacy@flix.example"' in r.text  # what was typed is kept
    assert await apps(web).list_all() == []


async def test_registering_needs_the_csrf_token(web: WebEnv, alice: MatrixTestClient) -> None:
    browser = await logged_in(web, alice)

    missing = await browser.post_form(PORTAL, FORM)
    forged = await browser.post_form(PORTAL, {**FORM, "csrf_token": "0" * 64})

    assert missing.status_code == 403
    assert forged.status_code == 403
    assert await apps(web).list_all() == []


# --- the public list ------------------------------------------------------------------------


async def test_the_public_list_shows_approved_agreements_in_plain_words(web: WebEnv) -> None:
    flix = await registered(web, "Flix")
    await registered(web, "Pending app")
    gone = await registered(web, "Gone app")
    await apps(web).approve(flix.client_id)
    await apps(web).approve(gone.client_id)
    await apps(web).suspend(gone.client_id)
    await apps(web).new_agreement(
        flix.client_id,
        AgreementTerms("Recommend series", "Share counts", 7, 28, "differential_privacy", 10, 0.5),
    )

    r = await web.browser().get("/partners")

    assert r.status_code == 200
    text = unescape(r.text)
    assert "Flix" in text
    assert "Recommend series" in text
    assert "Share counts" in text
    assert "at most 7 days" in text
    assert "every 4 weeks" in text
    assert "differential privacy" in text
    assert "ε = 0.5" in text
    assert "Pending app" not in text
    assert "Gone app" not in text
    assert "flix.example/cb" not in text  # redirect URIs are not for the public page


async def test_the_public_list_names_the_k_threshold(web: WebEnv) -> None:
    flix = await registered(web)
    await apps(web).approve(flix.client_id)

    r = await web.browser().get("/partners")

    assert "smaller than 10" in r.text
    assert "every 2 weeks" in r.text


async def test_the_public_list_without_apps(web: WebEnv) -> None:
    r = await web.browser().get("/partners")

    assert r.status_code == 200
    assert "No partner apps yet" in r.text


# --- the administrators' page ---------------------------------------------------------------


async def admin_browser(web: WebEnv) -> WebTestClient:
    await web.admin("root")
    browser = web.browser()
    r = await browser.login("root")
    assert r.status_code == 303
    return browser


async def test_administrators_approve_and_suspend_from_the_page(web: WebEnv) -> None:
    app = await registered(web)
    browser = await admin_browser(web)

    page = await browser.get("/admin/partners")
    assert page.status_code == 200
    assert f'action="/admin/partners/{app.client_id}/approve"' in page.text
    assert "Waiting for an administrator" in page.text
    token = csrf_token_in(page.text)

    approved = await browser.post_form(
        f"/admin/partners/{app.client_id}/approve", {"csrf_token": token}
    )
    assert approved.status_code == 303
    assert (await apps(web).get(app.client_id)).status == "approved"
    page = await browser.get("/admin/partners")
    assert f'action="/admin/partners/{app.client_id}/approve"' not in page.text
    assert f'action="/admin/partners/{app.client_id}/suspend"' in page.text

    suspended = await browser.post_form(
        f"/admin/partners/{app.client_id}/suspend", {"csrf_token": token}
    )
    assert suspended.status_code == 303
    assert (await apps(web).get(app.client_id)).status == "suspended"


async def test_the_admin_page_is_refused_to_others(web: WebEnv, alice: MatrixTestClient) -> None:
    app = await registered(web)
    browser = await logged_in(web, alice)
    token = await browser.csrf_token("/")

    page = await browser.get("/admin/partners")
    approve = await browser.post_form(
        f"/admin/partners/{app.client_id}/approve", {"csrf_token": token}
    )

    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "Not allowed" in page.text
    assert app.client_id not in page.text
    assert approve.status_code == 403
    assert "text/html" in approve.headers["content-type"]
    assert (await apps(web).get(app.client_id)).status == "pending"


async def test_the_admin_page_needs_a_login(web: WebEnv) -> None:
    r = await web.browser().get("/admin/partners")

    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_admin_buttons_need_the_csrf_token(web: WebEnv) -> None:
    app = await registered(web)
    browser = await admin_browser(web)

    r = await browser.post_form(f"/admin/partners/{app.client_id}/approve", {})

    assert r.status_code == 403
    assert (await apps(web).get(app.client_id)).status == "pending"


async def test_an_unknown_app_is_a_404_page(web: WebEnv) -> None:
    browser = await admin_browser(web)
    token = await browser.csrf_token("/admin/partners")

    r = await browser.post_form("/admin/partners/app_nope/suspend", {"csrf_token": token})

    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
