"""A homeserver on both engines and a builder for valid app registrations."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import NewApp, PartnerAppsService
from candor.wiring import build_homeserver, build_services


@pytest.fixture
async def hs(settings: Settings, clock: FakeClock) -> AsyncIterator[Homeserver]:
    hs = build_homeserver(settings, clock)
    yield hs
    await hs.db.dispose()


@pytest.fixture
def apps(hs: Homeserver) -> PartnerAppsService:
    return build_services(hs).apps


def registration(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a valid `PartnerAppsService.create`, with `overrides`."""
    fields: dict[str, Any] = {
        "name": "Flix",
        "homepage": "https://flix.example",
        "contact": "privacy@flix.example",
        "redirect_uris": ["https://flix.example/cb"],
        "domains": ["flix.example"],
        "scopes": "profile share",
        "public": False,
        "terms": AgreementTerms("Recommend films to friends", "Share and click counts"),
        "owner": "@alice:test.local",
    }
    fields.update(overrides)
    return fields


async def make_app(apps: PartnerAppsService, **overrides: Any) -> NewApp:
    return await apps.create(**registration(**overrides))
