"""`GET /_candor/v1/partners` on both engines: approved apps only, each with its current
agreement; no token needed."""

from collections.abc import AsyncIterator

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import PartnerAppsService
from tests.partners.apps.conftest import make_app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, PartnerAppsService]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            yield http, app.state.services.apps


async def test_only_approved_apps_are_listed_with_their_current_agreement(
    client: tuple[httpx.AsyncClient, PartnerAppsService],
) -> None:
    http, apps = client
    flix = (await make_app(apps, name="Flix")).app
    pending = (await make_app(apps, name="Pending")).app
    gone = (await make_app(apps, name="Gone")).app
    await apps.approve(flix.client_id)
    await apps.approve(gone.client_id)
    await apps.suspend(gone.client_id)
    await apps.new_agreement(
        flix.client_id,
        AgreementTerms("Recommend series", "Share counts", 7, 28, "differential_privacy", 10, 0.5),
    )

    r = await http.get("/_candor/v1/partners")

    assert r.status_code == 200, r.text
    (listed,) = r.json()["partners"]
    assert listed == {
        "client_id": flix.client_id,
        "name": "Flix",
        "homepage": "https://flix.example/",  # as a browser writes it (core.urls)
        "contact": "privacy@flix.example",
        "scopes": ["profile", "share"],
        "domains": ["flix.example"],
        "approved": True,
        "agreement": {
            "version": 2,
            "purpose": "Recommend series",
            "data_used": "Share counts",
            "retention_days": 7,
            "reporting_days": 28,
            "privacy": "differential_privacy",
            "k_threshold": 10,
            "epsilon": 0.5,
            "contribution_bound": 10,
        },
    }
    assert pending.client_id not in r.text
    assert "client_secret" not in r.text
    assert "redirect" not in r.text


async def test_the_list_is_empty_before_any_approval(
    client: tuple[httpx.AsyncClient, PartnerAppsService],
) -> None:
    http, apps = client
    await make_app(apps)

    r = await http.get("/_candor/v1/partners")

    assert r.status_code == 200
    assert r.json() == {"partners": []}
