"""Third-party identifiers and protocols: Candor keeps and bridges none, and says so in the
spec's terms, so clients (Element's settings, its sign-up) show the right thing."""

import httpx
import pytest

from tests.helpers.matrix import MatrixTestClient

pytestmark = pytest.mark.engines("sqlite")

V3 = "/_matrix/client/v3"
TOKEN_BODY = {"client_secret": "s3cret", "email": "a@example.org", "send_attempt": 1}


async def test_an_account_has_no_third_party_ids_and_no_protocols(
    alice: MatrixTestClient,
) -> None:
    assert await alice.ok("GET", "/account/3pid") == {"threepids": []}
    assert await alice.ok("GET", "/thirdparty/protocols") == {}
    capabilities = await alice.ok("GET", "/capabilities")
    assert capabilities["capabilities"]["m.3pid_changes"] == {"enabled": False}


@pytest.mark.parametrize(
    "path",
    [
        "/account/3pid/email/requestToken",
        "/account/3pid/msisdn/requestToken",
        "/register/email/requestToken",
        "/register/msisdn/requestToken",
        "/account/password/email/requestToken",
        "/account/password/msisdn/requestToken",
    ],
)
async def test_validation_tokens_are_refused(http: httpx.AsyncClient, path: str) -> None:
    r = await http.post(f"{V3}{path}", json=TOKEN_BODY)
    assert (r.status_code, r.json()["errcode"]) == (403, "M_THREEPID_DENIED")


@pytest.mark.parametrize("path", ["/account/3pid/add", "/account/3pid/bind", "/account/3pid"])
async def test_adding_one_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, alice: MatrixTestClient, path: str
) -> None:
    r = await alice.request("POST", path, json={"sid": "1", "client_secret": "s3cret"})
    assert (r.status_code, r.json()["errcode"]) == (403, "M_THREEPID_DENIED")
    r = await http.post(f"{V3}{path}", json={})
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", "/account/3pid") == {"threepids": []}


@pytest.mark.parametrize(
    "path",
    [
        "/thirdparty/protocol/irc",
        "/thirdparty/user/im.vector.protocol.sip_virtual?virtual_mxid=%40bob%3Atest",
        "/thirdparty/location/irc?channel=%23tea",
        "/thirdparty/user?userid=irc_bob",
        "/thirdparty/location?alias=%23tea%3Atest",
    ],
)
async def test_third_party_lookups_find_nothing(alice: MatrixTestClient, path: str) -> None:
    r = await alice.request("GET", path)
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await alice.http.get(f"{V3}{path}")  # a token is still needed to ask
    assert r.status_code == 401
