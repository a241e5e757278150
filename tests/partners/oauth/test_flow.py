"""The authorization code flow with PKCE, end to end in-process, on both engines."""

from tests.partners.oauth.conftest import OAuthEnv


async def test_code_flow_gives_tokens_that_read_the_profile(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "profile share"
    r = await env.me(tokens["access_token"])
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": "@alice:test.local", "displayname": "alice"}
