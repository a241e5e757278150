"""OAuthService edge cases the HTTP flow cannot time: two requests racing for one code
or one refresh token (the constraint-backed single statements decide)."""

from tests.partners.oauth.conftest import OAuthEnv


async def test_two_exchanges_of_one_code_cannot_both_win(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    code = await env.code(browser, flow)
    record = await env.oauth.find_code(code, client.client_id)
    assert record is not None
    assert await env.oauth.exchange_code(record, env.oauth.new_tokens("profile")) is True
    assert await env.oauth.exchange_code(record, env.oauth.new_tokens("profile")) is False


async def test_two_rotations_of_one_refresh_token_cannot_both_win(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    record = await env.oauth.find_refresh(tokens["refresh_token"])
    assert record is not None
    first = env.oauth.new_tokens("profile")
    assert await env.oauth.rotate(record, first) is True
    assert await env.oauth.rotate(record, env.oauth.new_tokens("profile")) is False
    # The loser's request looks like a reuse: the whole family ends, the winner's too.
    assert (await env.me(first.access_token)).status_code == 401


async def test_a_code_is_only_found_for_its_own_client(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    code = await env.code(browser, env.flow(client))
    assert await env.oauth.find_code(code, "app_other") is None
    assert await env.oauth.find_code(code, client.client_id) is not None
