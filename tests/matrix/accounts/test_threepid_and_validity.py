"""Registration-token validity and third-party identifier removal (issue 18): Candor has no
registration tokens and keeps no third-party identifiers, and answers as the spec says."""

import httpx

from candor.app import create_app
from candor.config import RegistrationSettings, Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

VALIDITY = "/_matrix/client/v1/register/m.login.registration_token/validity"


async def test_no_registration_token_is_valid(http: httpx.AsyncClient) -> None:
    r = await http.get(VALIDITY, params={"token": "fBVFdqVE"})
    assert r.status_code == 200
    assert r.json() == {"valid": False}
    r = await http.get(VALIDITY)
    assert r.status_code == 400


async def test_with_registration_closed_validity_is_forbidden(settings: Settings) -> None:
    closed = settings.model_copy(update={"registration": RegistrationSettings(enabled=False)})
    app = create_app(closed)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test.local",
            event_hooks=spec_event_hooks(),
        ) as http,
    ):
        r = await http.get(VALIDITY, params={"token": "abc"})
        assert (r.status_code, r.json()["errcode"]) == (403, "M_FORBIDDEN")


async def test_removing_a_third_party_id_has_nothing_to_unbind(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    body = {"medium": "email", "address": "alice@example.org"}
    for path in ("/account/3pid/delete", "/account/3pid/unbind"):
        r = await alice.request("POST", path, json=body)
        assert r.status_code == 200, r.text
        assert r.json() == {"id_server_unbind_result": "no-support"}
        r = await alice.request("POST", path, json={**body, "id_server": "id.example.org"})
        assert r.json() == {"id_server_unbind_result": "no-support"}
        r = await alice.request("POST", path, json={"medium": "email"})
        assert (r.status_code, r.json()["errcode"]) == (400, "M_MISSING_PARAM")
        r = await alice.request("POST", path, json={"medium": 1, "address": "x"})
        assert (r.status_code, r.json()["errcode"]) == (400, "M_BAD_JSON")
        r = await http.post(f"/_matrix/client/v3{path}", json=body)
        assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert await alice.ok("GET", "/account/3pid") == {"threepids": []}
