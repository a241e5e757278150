"""The authorization code flow with PKCE, rotation, revocation and introspection,
through the real app in-process, on both engines."""

from candor.partners.apps.rules import AgreementTerms
from tests.partners.oauth.conftest import Client, OAuthEnv, query_of


async def test_code_flow_gives_tokens_that_read_the_profile(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "profile share"
    assert tokens["access_token"].startswith("cdr_at_")
    assert tokens["refresh_token"].startswith("cdr_rt_")
    r = await env.me(tokens["access_token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": "@alice:test.local", "displayname": "alice"}


async def test_client_secret_post_works_too(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    code = await env.code(browser, flow)
    r = await env.api.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.client.redirect_uri,
            "code_verifier": flow.verifier,
            "client_id": client.client_id,
            "client_secret": str(client.secret),
        },
    )
    assert r.status_code == 200, r.text


async def test_public_client_uses_pkce_without_a_secret(env: OAuthEnv) -> None:
    client = await env.client(public=True)
    assert client.secret is None
    tokens = await env.tokens(client)
    assert (await env.me(tokens["access_token"])).status_code == 200
    r = await env.refresh(client, tokens["refresh_token"])
    assert r.status_code == 200, r.text


async def test_refresh_rotates_and_the_old_refresh_token_is_spent(env: OAuthEnv) -> None:
    client = await env.client()
    first = await env.tokens(client)
    r = await env.refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await env.me(second["access_token"])).status_code == 200
    # A refresh token may ask for less, never more.
    r = await env.refresh(client, second["refresh_token"])
    third = r.json()
    r = await env.api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": third["refresh_token"],
            "scope": "profile",
        },
        auth=(client.client_id, str(client.secret)),
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "profile"


async def test_reusing_a_refresh_token_revokes_the_whole_family(env: OAuthEnv) -> None:
    client = await env.client()
    first = await env.tokens(client)
    second = (await env.refresh(client, first["refresh_token"])).json()
    r = await env.refresh(client, first["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    for token in (first["access_token"], second["access_token"]):
        r = await env.me(token)
        assert r.status_code == 401
        assert r.json()["errcode"] == "CANDOR_UNKNOWN_TOKEN"
    r = await env.refresh(client, second["refresh_token"])
    assert r.json()["error"] == "invalid_grant"


async def test_revoking_an_access_token_ends_it_at_once(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    r = await env.api.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        auth=(client.client_id, str(client.secret)),
    )
    assert r.status_code == 200, r.text
    assert (await env.me(tokens["access_token"])).status_code == 401


async def test_revoking_a_refresh_token_ends_the_family(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    r = await env.api.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        auth=(client.client_id, str(client.secret)),
    )
    assert r.status_code == 200
    assert (await env.me(tokens["access_token"])).status_code == 401
    assert (await env.refresh(client, tokens["refresh_token"])).json()["error"] == "invalid_grant"


async def test_revoking_an_unknown_token_is_a_quiet_success(env: OAuthEnv) -> None:
    client = await env.client()
    r = await env.api.post(
        "/oauth/revoke", data={"token": "nonsense"}, auth=(client.client_id, str(client.secret))
    )
    assert r.status_code == 200
    assert r.json() == {}


async def test_an_app_cannot_revoke_another_apps_token(env: OAuthEnv) -> None:
    mine, other = await env.client(), await env.client()
    tokens = await env.tokens(mine)
    r = await env.api.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"]},
        auth=(other.client_id, str(other.secret)),
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert (await env.me(tokens["access_token"])).status_code == 200


async def introspect(env: OAuthEnv, client: Client, token: str) -> dict[str, object]:
    r = await env.api.post(
        "/oauth/introspect", data={"token": token}, auth=(client.client_id, str(client.secret))
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def test_introspection_describes_the_apps_own_tokens(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    now_s = env.web.clock.now_ms() // 1000
    body = await introspect(env, client, tokens["access_token"])
    assert body == {
        "active": True,
        "client_id": client.client_id,
        "scope": "profile share",
        "sub": "@alice:test.local",
        "username": "@alice:test.local",
        "token_type": "Bearer",
        "iat": now_s,
        "exp": now_s + 3600,
        "iss": "http://test.local",
    }
    body = await introspect(env, client, tokens["refresh_token"])
    assert body["active"] is True
    assert "exp" not in body


async def test_introspection_names_the_person_only_for_tokens_with_the_profile_scope(
    env: OAuthEnv,
) -> None:
    """Issue 13 item 4: who a token speaks for is the `profile` scope's data; a token
    without it must not reveal the person through introspection (unrecorded, unconsented)."""
    client = await env.client(scopes="share")
    browser = await env.person()
    flow = env.flow(client, scope="share")
    r = await env.exchange(flow, await env.code(browser, flow))
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["scope"] == "share"
    for token in (tokens["access_token"], tokens["refresh_token"]):
        body = await introspect(env, client, token)
        assert body["active"] is True
        assert body["scope"] == "share"
        assert "sub" not in body
        assert "username" not in body
        assert "@alice:test.local" not in str(body)
    # Narrowing a `profile share` token to `share` on refresh drops the person too.
    both = await env.client()
    wide = await env.tokens(both, browser)
    assert (await introspect(env, both, wide["access_token"]))["sub"] == "@alice:test.local"
    r = await env.api.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": wide["refresh_token"],
            "scope": "share",
        },
        auth=(both.client_id, str(both.secret)),
    )
    assert r.status_code == 200, r.text
    narrow = r.json()
    assert narrow["scope"] == "share"
    body = await introspect(env, both, narrow["access_token"])
    assert body["active"] is True
    assert "sub" not in body
    assert "username" not in body


async def test_introspection_of_other_apps_and_dead_tokens_is_inactive(env: OAuthEnv) -> None:
    mine, other = await env.client(), await env.client()
    tokens = await env.tokens(mine)
    assert await introspect(env, other, tokens["access_token"]) == {"active": False}
    assert await introspect(env, mine, "cdr_at_unknown") == {"active": False}
    rotated = (await env.refresh(mine, tokens["refresh_token"])).json()
    assert await introspect(env, mine, tokens["refresh_token"]) == {"active": False}
    env.web.clock.advance(3601)
    assert await introspect(env, mine, rotated["access_token"]) == {"active": False}
    assert (await env.me(rotated["access_token"])).status_code == 401
    await env.api.post(
        "/oauth/revoke",
        data={"token": rotated["refresh_token"]},
        auth=(mine.client_id, str(mine.secret)),
    )
    assert await introspect(env, mine, rotated["refresh_token"]) == {"active": False}


async def test_metadata_describes_the_server(env: OAuthEnv) -> None:
    r = await env.api.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200
    body = r.json()
    assert body["issuer"] == "http://test.local"
    assert body["token_endpoint"] == "http://test.local/oauth/token"
    assert body["authorization_endpoint"] == "http://test.local/oauth/authorize"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["response_types_supported"] == ["code"]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token"]


async def test_a_current_consent_skips_the_page_and_a_new_agreement_asks_again(
    env: OAuthEnv,
) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    await env.code(browser, flow)
    r = await browser.get(env.flow(client).path)
    assert r.status_code == 302
    assert "code" in query_of(r.headers["location"])
    await env.apps.new_agreement(
        client.client_id, AgreementTerms("Recommend films and series", "Share counts", 90)
    )
    r = await browser.get(env.flow(client).path)
    assert r.status_code == 200
    assert "Recommend films and series" in r.text
    assert "90 days" in r.text
