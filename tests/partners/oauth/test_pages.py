"""The consent page (login first, plain-language scopes, partial consent) and the
Connected apps page (last read, Revoke)."""

from urllib.parse import quote

from candor.web.security import CONTENT_SECURITY_POLICY, policy_with_form_action
from tests.helpers.web import csrf_token_in
from tests.partners.oauth.conftest import OAuthEnv, query_of


async def test_the_login_page_comes_first_and_leads_back(env: OAuthEnv) -> None:
    client = await env.client()
    await env.web.matrix_user("alice")
    browser = env.web.browser()
    flow = env.flow(client)
    r = await browser.get(flow.path)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + quote(flow.path, safe="/")
    r = await browser.login("alice", next_path=flow.path)
    assert r.status_code == 303
    assert r.headers["location"] == flow.path
    page = await browser.get(flow.path)
    assert page.status_code == 200


async def test_the_consent_page_says_who_asks_what_and_why(env: OAuthEnv) -> None:
    client = await env.client(scopes="profile share inbox.read")
    browser = await env.person()
    r = await browser.get(env.flow(client, scope="profile share inbox.read").path)
    assert r.status_code == 200
    text = r.text
    assert "Flix" in text
    assert "Recommend films to friends" in text
    assert "45 days" in text
    assert "See your user ID and display name" in text
    assert "Let you share recommendations" in text
    assert "only when everyone in the conversation agrees" in text
    assert ">Allow</button>" in text
    assert ">Deny</button>" in text
    assert 'name="scope:share"' in text
    assert 'name="scope:inbox.read"' in text
    assert 'name="scope:profile"' not in text  # required: no box to untick
    assert r.headers["cache-control"] == "no-store"


async def test_no_scope_asked_means_every_registered_scope(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client, scope=None)
    page = await browser.get(flow.path)
    fields = {"csrf_token": csrf_token_in(page.text), "decision": "allow", "scope:share": "on"}
    r = await browser.post_form(flow.path, fields)
    code = query_of(r.headers["location"])["code"]
    tokens = (await env.exchange(flow, code)).json()
    assert tokens["scope"] == "profile share"


async def test_unticking_an_optional_scope_narrows_the_grant(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    page = await browser.get(flow.path)
    # share unticked; a forged tick for a scope never asked for is ignored
    fields = {"csrf_token": csrf_token_in(page.text), "decision": "allow", "scope:inbox.read": "on"}
    r = await browser.post_form(flow.path, fields)
    assert r.status_code == 303
    tokens = (await env.exchange(flow, query_of(r.headers["location"])["code"])).json()
    assert tokens["scope"] == "profile"
    apps = await env.connected.list_for("@alice:test.local")
    assert [s for s, _ in apps[0].scopes] == ["profile"]


async def test_allowing_nothing_is_denying(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client, scope="share")
    page = await browser.get(flow.path)
    r = await browser.post_form(
        flow.path, {"csrf_token": csrf_token_in(page.text), "decision": "allow"}
    )
    assert query_of(r.headers["location"])["error"] == "access_denied"


async def test_a_logged_out_post_goes_to_the_login_page(env: OAuthEnv) -> None:
    client = await env.client()
    browser = env.web.browser()
    flow = env.flow(client)
    token = await browser.csrf_token("/login")
    r = await browser.post_form(flow.path, {"csrf_token": token, "decision": "allow"})
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


async def test_connected_apps_lists_scopes_and_last_read_and_revoke_ends_tokens(
    env: OAuthEnv,
) -> None:
    client = await env.client()
    browser = await env.person()
    tokens = await env.tokens(client, browser)
    page = await browser.get("/privacy/apps")
    assert page.status_code == 200
    assert "Flix" in page.text
    assert "See your user ID and display name" in page.text
    assert "Never" in page.text
    assert (await env.me(tokens["access_token"])).status_code == 200
    page = await browser.get("/privacy/apps")
    assert "Never" not in page.text
    assert "UTC" in page.text
    assert ">Revoke</button>" in page.text
    home = await browser.get("/")
    assert 'href="/privacy/apps"' in home.text

    # A forged CSRF token changes nothing.
    r = await browser.post_form(
        "/privacy/apps/revoke", {"csrf_token": "forged", "client_id": client.client_id}
    )
    assert r.status_code == 403
    assert (await env.me(tokens["access_token"])).status_code == 200

    r = await browser.post_form(
        "/privacy/apps/revoke",
        {"csrf_token": csrf_token_in(page.text), "client_id": client.client_id},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/privacy/apps?revoked=1"
    assert (await env.me(tokens["access_token"])).status_code == 401
    assert (await env.refresh(client, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    page = await browser.get("/privacy/apps?revoked=1")
    assert "No connected apps" in page.text
    assert "disconnected" in page.text
    # Revoked consent: the next authorization asks again.
    assert (await browser.get(env.flow(client).path)).status_code == 200


async def test_connected_apps_needs_a_login(env: OAuthEnv) -> None:
    browser = env.web.browser()
    r = await browser.get("/privacy/apps")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


async def test_revoke_with_a_bad_form_is_refused(env: OAuthEnv) -> None:
    browser = await env.person()
    token = await browser.csrf_token("/privacy/apps")
    r = await browser.post_form("/privacy/apps/revoke", {"csrf_token": token})
    assert r.status_code == 400


async def test_the_consent_form_may_lead_to_the_apps_redirect_origin(env: OAuthEnv) -> None:
    """Browsers apply CSP `form-action` to a form's redirect: Allow leads to the app."""
    client = await env.client()
    browser = await env.person()
    r = await browser.get(env.flow(client).path)
    csp = r.headers["content-security-policy"]
    assert csp.endswith("form-action 'self' https://flix.example")
    assert r.headers.get_list("content-security-policy") == [csp]
    assert "script-src 'self'" in csp
    home = await browser.get("/")
    assert home.headers["content-security-policy"].endswith("form-action 'self'")


def test_only_plain_origins_widen_form_action() -> None:
    assert policy_with_form_action("http://127.0.0.1:8123/cb").endswith(
        "form-action 'self' http://127.0.0.1:8123"
    )
    assert policy_with_form_action("http://[::1]:80/cb").endswith("'self' http://[::1]:80")
    for odd in ("https://a;b.example/cb", "https://user@flix.example/cb", "https://x y/cb"):
        assert policy_with_form_action(odd) == CONTENT_SECURITY_POLICY
