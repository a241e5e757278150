"""Reports on both engines: a homeserver with a fake clock, approved apps with either
privacy method, and a bulk loader for `share_events` (the report's fact table)."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import App
from candor.store.models.share import ShareEvent
from candor.wiring import build_homeserver, build_services

# 2026-11-23 12:00 UTC, a Monday: the aligned 14-day period 2026-11-09 … 2026-11-22 has ended.
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
PERIOD_START = date(2026, 11, 9)
PERIOD_END = date(2026, 11, 22)


@dataclass(frozen=True, slots=True)
class Event:
    """One fact as the share service writes it."""

    day: str
    interface: str
    surface: str
    variant: str
    kind: int
    person: str
    recipients: int = 0
    card_id: str = "card_x"


@pytest.fixture
def report_clock() -> FakeClock:
    return FakeClock(int(NOW.timestamp() * 1000))


@pytest.fixture
async def hs(settings: Settings, report_clock: FakeClock) -> AsyncIterator[Homeserver]:
    server = build_homeserver(settings, report_clock)
    try:
        yield server
    finally:
        await server.db.dispose()


async def make_app(
    hs: Homeserver,
    name: str = "StreamFlix",
    *,
    privacy: str = "k_anonymity",
    k: int = 10,
    epsilon: float | None = None,
    reporting_days: int = 14,
    created: datetime = datetime(2026, 10, 1, tzinfo=UTC),
    owner: str | None = None,
) -> App:
    """An approved app registered on `created` (periods are counted from that day)."""
    clock = hs.clock
    assert isinstance(clock, FakeClock)
    saved = clock.now_ms()
    clock.set_ms(int(created.timestamp() * 1000))
    service = build_services(hs).apps
    new = await service.create(
        name=name,
        homepage="https://streamflix.example",
        contact="partners@streamflix.example",
        redirect_uris=["https://streamflix.example/cb"],
        domains=["streamflix.example"],
        scopes="profile share",
        public=False,
        terms=AgreementTerms(
            "Recommend titles to friends",
            "Share and click counts",
            30,
            reporting_days,
            privacy,
            k,
            epsilon,
        ),
        owner=owner,
    )
    app = await service.approve(new.app.client_id)
    clock.set_ms(saved)
    return app


async def load_events(hs: Homeserver, client_id: str, events: Sequence[Event]) -> None:
    rows = [
        {
            "client_id": client_id,
            "day": e.day,
            "interface": e.interface,
            "surface": e.surface,
            "variant": e.variant,
            "kind": e.kind,
            "person": e.person,
            "recipients": e.recipients,
            "card_id": e.card_id,
            "ts": 0,
        }
        for e in events
    ]
    async with hs.db.write() as conn:
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(ShareEvent), rows[i : i + 5000])
