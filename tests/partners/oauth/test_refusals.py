"""Every refusal the issue names, with its error code, and proof that nothing changed.

On SQLite, like the other OAuth flows (tests/conftest.py); tests/partners/oauth/test_flow.py
and the token store's tests run on both engines."""

from typing import Any

import pytest

from candor.partners.apps import repository as apps_repo
from candor.partners.oauth import repository as repo
from tests.helpers.web import csrf_token_in
from tests.partners.oauth.conftest import OAuthEnv, query_of

pytestmark = pytest.mark.engines("sqlite")


async def consent_of(env: OAuthEnv, client_id: str, user: str = "@alice:test.local") -> Any:
    async with env.web.hs.db.read() as conn:
        return await repo.get_consent(conn, client_id, user)


async def assert_error_page(r: Any, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "inbox.read"}, "invalid_scope"),
        ({"scope": "profile admin"}, "invalid_scope"),
    ],
)
async def test_bad_requests_go_back_to_the_app_with_an_error_and_state(
    env: OAuthEnv, overrides: dict[str, str | None], error: str
) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client, **overrides)
    r = await browser.get(flow.path)
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(client.redirect_uri + "?")
    found = query_of(r.headers["location"])
    assert found["error"] == error
    assert found["state"] == "xyz-state"
    assert "code" not in found
    assert await consent_of(env, client.client_id) is None


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://flix.example/cc",
        "https://flix.example/cb/",
        "https://flix.example/cB",
        "https://flix.example/cb?x=1",
        "https://evil.example/cb",
        None,
    ],
)
async def test_a_redirect_uri_off_by_one_character_gets_an_error_page_not_a_redirect(
    env: OAuthEnv, redirect_uri: str | None
) -> None:
    client = await env.client()
    browser = await env.person()
    r = await browser.get(env.flow(client, redirect_uri=redirect_uri).path)
    await assert_error_page(r)
    assert "return address is not registered" in r.text


async def test_unknown_client_gets_an_error_page(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    for client_id in ("app_nope", None):
        r = await browser.get(env.flow(client, client_id=client_id).path)
        await assert_error_page(r)


async def test_repeated_client_id_gets_an_error_page(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    r = await browser.get(flow.path + "&client_id=" + client.client_id)
    await assert_error_page(r)


async def test_repeated_state_gets_an_error_page(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    r = await browser.get(env.flow(client).path + "&state=other")
    await assert_error_page(r)
    assert "repeats a parameter" in r.text


async def test_an_unreadable_link_gets_an_error_page(env: OAuthEnv) -> None:
    browser = await env.person()
    r = await browser.get("/oauth/authorize?client_id=%ff%fe")
    await assert_error_page(r)


async def test_a_pending_app_gets_no_code(env: OAuthEnv) -> None:
    client = await env.client(approve=False)
    browser = await env.person()
    r = await browser.get(env.flow(client).path)
    await assert_error_page(r)
    assert "not approved" in r.text
    assert await consent_of(env, client.client_id) is None


async def test_suspending_an_app_ends_its_tokens_at_once(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    await env.apps.suspend(client.client_id)
    r = await env.me(tokens["access_token"])
    assert r.status_code == 401
    assert r.json()["errcode"] == "CANDOR_UNKNOWN_TOKEN"
    r = await env.refresh(client, tokens["refresh_token"])
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    browser = env.web.browser()
    await browser.login("alice")
    await assert_error_page(await browser.get(env.flow(client).path))


async def test_a_suspended_app_is_refused_even_if_a_token_survived(env: OAuthEnv) -> None:
    """Defence in depth: the bearer check reads the app's status, not only the token."""
    client = await env.client()
    tokens = await env.tokens(client)
    async with env.web.hs.db.write() as conn:
        await apps_repo.set_status(conn, client.client_id, "suspended", 1)
    assert (await env.me(tokens["access_token"])).status_code == 401


async def test_a_forged_or_missing_csrf_token_changes_nothing(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    for extra in ({"csrf_token": "forged"}, {"csrf_token": ""}):
        r = await env.answer(browser, flow, extra=extra)
        assert r.status_code == 403
        assert "location" not in r.headers
    r = await browser.post_form(flow.path, {"decision": "allow"})
    assert r.status_code == 403
    assert await consent_of(env, client.client_id) is None


async def test_another_browsers_csrf_token_is_refused(env: OAuthEnv) -> None:
    client = await env.client()
    alice = await env.person("alice")
    mallory = await env.person("mallory")
    flow = env.flow(client)
    page = await mallory.get(flow.path)
    r = await alice.post_form(
        flow.path, {"csrf_token": csrf_token_in(page.text), "decision": "allow"}
    )
    assert r.status_code == 403
    assert await consent_of(env, client.client_id) is None


async def test_deny_sends_access_denied_with_state_and_stores_nothing(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    r = await env.answer(browser, env.flow(client), decision="deny")
    assert r.status_code == 303
    found = query_of(r.headers["location"])
    assert found["error"] == "access_denied"
    assert found["state"] == "xyz-state"
    assert "code" not in found
    assert await consent_of(env, client.client_id) is None


async def test_an_unknown_decision_is_refused(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    r = await env.answer(browser, env.flow(client), decision="maybe")
    assert r.status_code == 400
    assert await consent_of(env, client.client_id) is None


async def test_wrong_client_secret_is_refused(env: OAuthEnv) -> None:
    flow, code = await env.fresh_code()
    client = flow.client
    for secret in ("cdr_cs_wrong", str(client.secret)[:-1] + "x", ""):
        r = await env.api.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": flow.client.redirect_uri,
                "code_verifier": flow.verifier,
            },
            auth=(client.client_id, secret),
        )
        assert r.status_code in (400, 401), r.text
        assert r.json()["error"] == "invalid_client"
    # Without any secret, a confidential client cannot pass as a public one.
    r = await env.api.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.client.redirect_uri,
            "code_verifier": flow.verifier,
            "client_id": client.client_id,
        },
    )
    assert r.json()["error"] == "invalid_client"
    # Nothing was spent: the right secret still works.
    assert (await env.exchange(flow, code)).status_code == 200


async def test_a_reused_code_is_refused_and_ends_its_tokens(env: OAuthEnv) -> None:
    flow, code = await env.fresh_code()
    first = await env.exchange(flow, code)
    assert first.status_code == 200
    again = await env.exchange(flow, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert (await env.me(first.json()["access_token"])).status_code == 401


async def test_a_wrong_verifier_is_refused_and_the_code_survives(env: OAuthEnv) -> None:
    flow, code = await env.fresh_code()
    for verifier in ("x" * 43, "", "short"):
        r = await env.exchange(flow, code, code_verifier=verifier)
        assert r.status_code == 400
        assert r.json()["error"] in ("invalid_grant", "invalid_request")
    assert (await env.exchange(flow, code)).status_code == 200


async def test_a_code_for_another_redirect_uri_or_client_is_refused(env: OAuthEnv) -> None:
    client, other = await env.client(), await env.client()
    browser = await env.person()
    flow = env.flow(client)
    code = await env.code(browser, flow)
    r = await env.exchange(flow, code, redirect_uri="http://127.0.0.1:8123/cb")
    assert r.json()["error"] == "invalid_grant"
    r = await env.api.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.client.redirect_uri,
            "code_verifier": flow.verifier,
        },
        auth=(other.client_id, str(other.secret)),
    )
    assert r.json()["error"] == "invalid_grant"
    assert (await env.exchange(flow, code)).status_code == 200


async def test_an_expired_code_is_refused(env: OAuthEnv) -> None:
    flow, code = await env.fresh_code()
    env.web.clock.advance(301)
    r = await env.exchange(flow, code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_a_code_whose_consent_was_revoked_is_refused(env: OAuthEnv) -> None:
    flow, code = await env.fresh_code()
    client = flow.client
    await env.connected.revoke("@alice:test.local", client.client_id)
    r = await env.exchange(flow, code)
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("code", ["garbage", "cdr_ac_abc_0000000", ""])
async def test_malformed_codes_are_refused(env: OAuthEnv, code: str) -> None:
    client = await env.client()
    flow = env.flow(client)
    r = await env.exchange(flow, code)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
