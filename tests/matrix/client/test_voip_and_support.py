"""`GET /voip/turnServer` and `/.well-known/matrix/support` from configuration: TURN REST
API credentials from a shared secret (or a fixed pair), `{}` with nothing configured;
the support document, 404 with nothing configured; settings that cannot work refused."""

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from candor.app import create_app
from candor.config import Settings, SupportSettings, TurnSettings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.spec import spec_event_hooks

pytestmark = pytest.mark.engines("sqlite")  # configuration answers: no SQL of their own
URIS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]


@asynccontextmanager
async def serve(
    settings: Settings, clock: FakeClock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as http:
            yield http


async def turn_answer(settings: Settings, clock: FakeClock | None = None) -> Any:
    async with serve(settings, clock) as http:
        alice = await MatrixTestClient.register(http, "alice")
        r = await http.get("/_matrix/client/v3/voip/turnServer")
        assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")
        return await alice.ok("GET", "/voip/turnServer")


async def test_a_shared_secret_gives_time_limited_hmac_credentials(settings: Settings) -> None:
    clock = FakeClock(1_800_000_000_000)
    turn = TurnSettings(uris=URIS, shared_secret="s3cret", user_lifetime_s=600)
    answer = await turn_answer(settings.model_copy(update={"turn": turn}), clock)

    assert answer["username"] == "1800000600:@alice:test.local"
    expected = hmac.new(b"s3cret", answer["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(answer["password"]) == expected
    assert answer["uris"] == URIS
    assert answer["ttl"] == 600


async def test_fixed_credentials_are_served_as_configured(settings: Settings) -> None:
    turn = TurnSettings(uris=URIS[:1], username="calls", password="pw")
    answer = await turn_answer(settings.model_copy(update={"turn": turn}))
    assert answer == {"username": "calls", "password": "pw", "uris": URIS[:1], "ttl": 3600}


async def test_no_turn_server_is_not_found(settings: Settings) -> None:
    """The spec's 200 requires credentials; with none to give, the standard error."""
    async with serve(settings) as http:
        alice = await MatrixTestClient.register(http, "alice")
        r = await alice.request("GET", "/voip/turnServer")
        assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")


@pytest.mark.parametrize(
    "turn",
    [
        {"uris": ["stun:stun.example.org"], "shared_secret": "s"},
        {"uris": ["http://turn.example.org"], "shared_secret": "s"},
        {"uris": URIS},  # no way to authenticate
        {"uris": URIS, "username": "only-a-name"},
        {"uris": URIS, "shared_secret": "s", "user_lifetime_s": 0},
    ],
)
def test_turn_settings_that_cannot_work_are_refused(turn: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TurnSettings.model_validate(turn)


async def test_the_support_document_names_the_configured_contacts(settings: Settings) -> None:
    support = SupportSettings.model_validate(
        {
            "contacts": [
                {"role": "m.role.admin", "matrix_id": "@admin:test.local"},
                {"role": "m.role.security", "email_address": "security@example.org"},
            ],
            "page": "https://example.org/help",
        }
    )
    async with serve(settings.model_copy(update={"support": support})) as http:
        r = await http.get("/.well-known/matrix/support", headers={"Origin": "https://app.example"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    body = r.json()
    # support.yaml's server is /.well-known, so its operation is /matrix/support.
    assert body == {
        "contacts": [
            {"role": "m.role.admin", "matrix_id": "@admin:test.local"},
            {"role": "m.role.security", "email_address": "security@example.org"},
        ],
        "support_page": "https://example.org/help",
    }
    only_page = SupportSettings(page="https://example.org/help")
    async with serve(settings.model_copy(update={"support": only_page})) as http:
        body = (await http.get("/.well-known/matrix/support")).json()
    assert body == {"support_page": "https://example.org/help"}


async def test_no_support_information_is_404(http: httpx.AsyncClient) -> None:
    r = await http.get("/.well-known/matrix/support")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")


@pytest.mark.parametrize(
    "support",
    [
        {"contacts": [{"role": "m.role.admin"}]},  # no way to reach them
        {"contacts": [{"role": "", "email_address": "a@example.org"}]},
        {"contacts": [{"role": "m.role.admin", "matrix_id": "admin"}]},
        {"page": "javascript:alert(1)"},
    ],
)
def test_support_settings_that_cannot_work_are_refused(support: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SupportSettings.model_validate(support)
