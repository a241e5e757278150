"""`require_scope` (the partner APIs' bearer dependency) and `GET /partner/v1/me`."""

import pytest

from candor.matrix.moderation.repository import set_restriction
from candor.partners.apps.rules import AgreementTerms
from candor.partners.errors import PartnerError
from candor.partners.oauth import repository as repo
from candor.partners.oauth.bearer import PartnerToken
from tests.partners.oauth.conftest import OAuthEnv


@pytest.mark.parametrize(
    ("header", "errcode"),
    [
        (None, "CANDOR_MISSING_TOKEN"),
        ("Bearer ", "CANDOR_MISSING_TOKEN"),
        ("Basic abc", "CANDOR_MISSING_TOKEN"),
        ("Bearer nonsense", "CANDOR_UNKNOWN_TOKEN"),
        ("Bearer cdr_at_abc_0000000", "CANDOR_UNKNOWN_TOKEN"),
    ],
)
async def test_missing_or_bad_tokens_are_refused(
    env: OAuthEnv, header: str | None, errcode: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await env.api.get("/partner/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["errcode"] == errcode


async def test_a_refresh_token_is_not_a_bearer_token(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    r = await env.me(tokens["refresh_token"])
    assert r.status_code == 401


async def test_a_token_without_the_scope_gets_403(env: OAuthEnv) -> None:
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client, scope="share")
    tokens = (await env.exchange(flow, await env.code(browser, flow))).json()
    assert tokens["scope"] == "share"
    r = await env.me(tokens["access_token"])
    assert r.status_code == 403
    assert r.json()["errcode"] == "CANDOR_INSUFFICIENT_SCOPE"


async def test_the_rate_limit_is_per_app(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    limiter = env.web.hs.ratelimiter
    limiter.enabled = True
    try:
        statuses = [(await env.me(tokens["access_token"])).status_code for _ in range(60)]
    finally:
        limiter.enabled = False
    assert 429 in statuses
    limiter.enabled = True
    try:
        r = await env.me(tokens["access_token"])
    finally:
        limiter.enabled = False
    assert r.status_code == 429
    assert r.json()["errcode"] == "CANDOR_LIMIT_EXCEEDED"
    assert int(r.headers["retry-after"]) >= 1


async def test_a_revoked_consent_ends_a_token_even_if_it_survived(env: OAuthEnv) -> None:
    """Defence in depth: the bearer check reads the consent, not only the token."""
    client = await env.client()
    tokens = await env.tokens(client)
    async with env.web.hs.db.write() as conn:
        await repo.revoke_consent(conn, client.client_id, "@alice:test.local", 1)
    assert (await env.me(tokens["access_token"])).status_code == 401


async def test_note_use_records_the_last_read(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    token = await env.bearer.authenticate_bearer(tokens["access_token"])
    assert token == PartnerToken(
        client.client_id, "@alice:test.local", frozenset({"profile", "share"}), token.token_id
    )
    env.web.clock.advance(5)
    await env.bearer.note_use(client.client_id, "@alice:test.local")
    apps = await env.connected.list_for("@alice:test.local")
    assert apps[0].last_used_ts == env.web.clock.now_ms()


async def test_profile_of_a_vanished_person_is_refused(env: OAuthEnv) -> None:
    ghost = PartnerToken("app_x", "@ghost:test.local", frozenset({"profile"}), "t")
    with pytest.raises(PartnerError) as caught:
        await env.bearer.profile(ghost)
    assert caught.value.errcode == "CANDOR_UNKNOWN_TOKEN"


async def test_profile_without_a_display_name_says_null(env: OAuthEnv) -> None:
    client = await env.client()
    tokens = await env.tokens(client)
    alice = env.web.api
    r = await alice.post(
        "/_matrix/client/v3/login",
        json={"type": "m.login.password", "user": "alice", "password": "correct horse"},
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await alice.put(
        "/_matrix/client/v3/profile/@alice:test.local/displayname",
        json={"displayname": None},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    r = await env.me(tokens["access_token"])
    assert r.json() == {"user_id": "@alice:test.local", "displayname": None}


async def test_a_new_agreement_stops_tokens_until_the_person_consents_again(
    env: OAuthEnv,
) -> None:
    client = await env.client()
    browser = await env.person()
    tokens = await env.tokens(client, browser)
    await env.apps.new_agreement(
        client.client_id, AgreementTerms("Sell viewing habits", "Everything", 3650)
    )
    assert (await env.me(tokens["access_token"])).status_code == 401
    assert (await env.refresh(client, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    fresh = await env.tokens(client, browser)  # the consent page, Allow: version 2
    assert (await env.me(fresh["access_token"])).status_code == 200


async def test_a_locked_person_s_tokens_stop_until_the_account_is_unlocked(
    env: OAuthEnv,
) -> None:
    """An administrator's lock stops the account entirely, apps acting for it included;
    the tokens are not revoked, so they work again after the lock is lifted."""
    client = await env.client()
    tokens = await env.tokens(client)
    assert (await env.me(tokens["access_token"])).status_code == 200

    async def lock(locked: bool) -> None:
        async with env.web.hs.db.write() as conn:
            await set_restriction(conn, "@alice:test.local", locked, False, "@root:test.local", 0)

    await lock(True)
    r = await env.me(tokens["access_token"])
    assert (r.status_code, r.json()["errcode"]) == (403, "CANDOR_USER_LOCKED")
    await lock(False)
    assert (await env.me(tokens["access_token"])).status_code == 200
