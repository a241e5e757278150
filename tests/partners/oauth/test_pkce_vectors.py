"""RFC 7636 PKCE vectors (tests/data/oauth) through the real consent page and token endpoint.

The Appendix B verifier must redeem a code issued for its published challenge, and every
verifier the §4.1 ABNF rejects must be refused even when the challenge was computed from it,
so the format rule is enforced on its own, not only by the hash comparison.
"""

import base64
import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.helpers.testdata import data_path
from tests.partners.oauth.conftest import Flow, OAuthEnv

VECTORS: dict[str, Any] = json.loads(data_path("oauth", "pkce_vectors.json").read_text())


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize("case", VECTORS["s256"], ids=lambda c: c["desc"])
def test_s256_challenge_matches_the_rfc(case: dict[str, Any]) -> None:
    verifier = case["code_verifier"]
    octets = bytes(case["verifier_octets"])
    assert base64.urlsafe_b64encode(octets).rstrip(b"=").decode() == verifier
    assert s256(verifier) == case["code_challenge"]
    assert create_s256_code_challenge(verifier) == case["code_challenge"]


async def _exchange_with(env: OAuthEnv, verifier: str, challenge: str) -> tuple[int, str]:
    client = await env.client()
    base = env.flow(client, code_challenge=challenge)
    flow: Flow = replace(base, verifier=verifier)
    code = await env.code(await env.person(), flow)
    r = await env.exchange(flow, code)
    return r.status_code, r.json().get("error", "")


@pytest.mark.parametrize("case", VECTORS["s256"], ids=lambda c: c["desc"])
async def test_rfc_verifier_redeems_a_code_for_its_published_challenge(
    env: OAuthEnv, case: dict[str, Any]
) -> None:
    status, error = await _exchange_with(env, case["code_verifier"], case["code_challenge"])
    assert (status, error) == (200, "")


@pytest.mark.parametrize("case", VECTORS["verifier_format"], ids=lambda c: c["desc"])
async def test_verifier_format_follows_the_abnf(env: OAuthEnv, case: dict[str, Any]) -> None:
    verifier = case["code_verifier"]
    status, error = await _exchange_with(env, verifier, s256(verifier))
    if case["valid"]:
        assert (status, error) == (200, "")
    else:
        assert status == 400
        assert error in ("invalid_request", "invalid_grant")
