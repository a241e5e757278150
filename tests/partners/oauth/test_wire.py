"""Malformed input to the OAuth endpoints: RFC 6749 §5.2 errors, never a 500."""

import base64

import pytest

from tests.helpers.web import csrf_token_in
from tests.partners.oauth.conftest import OAuthEnv, query_of


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"grant_type=authorization_code&code=%00", "application/x-www-form-urlencoded"),
        (b"token=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"grant_type=refresh_token&refresh_token=%ff", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"", "application/x-www-form-urlencoded"),
        (b"&".join([b"a=1"] * 60), "application/x-www-form-urlencoded"),
    ],
)
async def test_unreadable_bodies_get_an_oauth_error(
    env: OAuthEnv, path: str, body: bytes, content_type: str
) -> None:
    client = await env.client()
    r = await env.api.post(
        path,
        content=body,
        headers={"Content-Type": content_type},
        auth=(client.client_id, str(client.secret)),
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"] in (
        "invalid_request",
        "unsupported_grant_type",
        "invalid_client",
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"\xff\xfe:\xfa").decode(),
        "Basic !!!notbase64",
        "Basic é",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer x",
    ],
)
async def test_bad_client_credentials_headers_are_refused_cleanly(
    env: OAuthEnv, authorization: str
) -> None:
    r = await env.api.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x"},
        headers={b"Authorization": authorization.encode("latin-1")},
    )
    assert r.status_code in (400, 401), r.text
    assert r.json()["error"] == "invalid_client"


async def test_unknown_grant_types_are_refused(env: OAuthEnv) -> None:
    client = await env.client()
    for grant in ("client_credentials", "password", "implicit", "\"';"):
        r = await env.api.post(
            "/oauth/token", data={"grant_type": grant}, auth=(client.client_id, str(client.secret))
        )
        assert r.status_code == 400
        assert r.json()["error"] == "unsupported_grant_type"


async def test_oauth_endpoints_answer_json_errors_for_wrong_methods(env: OAuthEnv) -> None:
    r = await env.api.get("/oauth/token")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/json")


async def test_a_consent_post_with_a_broken_request_goes_back_with_an_error(
    env: OAuthEnv,
) -> None:
    """The consent form re-validates the request it carries: a tampered action URL
    (here without PKCE) gets an error sent to the app, and no code."""
    client = await env.client()
    browser = await env.person()
    flow = env.flow(client)
    page = await browser.get(flow.path)
    tampered = env.flow(client, code_challenge=None, code_challenge_method=None)
    r = await browser.post_form(
        tampered.path, {"csrf_token": csrf_token_in(page.text), "decision": "allow"}
    )
    assert r.status_code == 302
    found = query_of(r.headers["location"])
    assert found["error"] == "invalid_request"
    assert "code" not in found
