"""The scheduler: each ended period once, across restarts and racing workers."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.reports.periods import MAX_BACKFILL
from candor.store.models.share import ShareEvent
from candor.wiring import build_report_scheduler, build_services
from tests.reports.conftest import NOW, PERIOD_END, Event, load_events, make_app


async def test_each_ended_period_is_produced_once_across_restarts(hs: Homeserver) -> None:
    # Registered 2026-10-01: four aligned periods end on or after that day and before NOW
    # (09-28…10-11, 10-12…10-25, 10-26…11-08, 11-09…11-22).
    app = await make_app(hs)
    await load_events(
        hs, app.client_id, [Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@a:t", 2)]
    )
    first = build_report_scheduler(hs, build_services(hs), interval_s=3600)
    made = await first.tick()
    assert made == 4
    assert await first.tick() == 0
    restarted = build_report_scheduler(hs, build_services(hs), interval_s=3600)
    assert await restarted.tick() == 0
    reports = await build_services(hs).reports.list_for_app(app.client_id)
    assert reports[0].period.end == PERIOD_END  # newest first
    assert len({(r.period.start, r.period.end) for r in reports}) == len(reports) == made

    clock = hs.clock
    assert isinstance(clock, FakeClock)
    clock.set_ms(int((NOW + timedelta(days=14)).timestamp() * 1000))
    assert await restarted.tick() == 1


async def test_racing_workers_make_one_report(hs: Homeserver) -> None:
    app = await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    await load_events(
        hs, app.client_id, [Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@a:t", 2)]
    )
    a, b = build_services(hs).reports, build_services(hs).reports
    got = await asyncio.gather(*(s.produce(app.client_id) for s in (a, b, a, b)))
    assert len({r.report_id for r in got}) == 1
    assert len({r.body for r in got}) == 1
    spent = got[0].document["privacy"]["budget"]["spent"]
    assert spent == 1.0  # one release, one ε


async def test_racing_workers_with_budget_for_one_report_both_get_it(hs: Homeserver) -> None:
    """The loser of the race finds the winner's report under the per-app lock, before the
    ε ledger (which now counts the winner's ε) would call the budget exhausted."""
    app = await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    hs.settings.reports.epsilon_budget = 1.0
    await load_events(
        hs, app.client_id, [Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@a:t", 2)]
    )
    a, b = build_services(hs).reports, build_services(hs).reports
    got = await asyncio.gather(*(s.produce(app.client_id) for s in (a, b)))
    assert got[0].report_id == got[1].report_id


async def test_a_refused_period_is_logged_once(
    hs: Homeserver, caplog: pytest.LogCaptureFixture
) -> None:
    await make_app(hs, privacy="differential_privacy", epsilon=1.0)
    hs.settings.reports.epsilon_budget = 2.0
    scheduler = build_report_scheduler(hs, build_services(hs), interval_s=3600)
    with caplog.at_level(logging.WARNING, logger="candor.reports.scheduler"):
        assert await scheduler.tick() == 2
        assert await scheduler.tick() == 0
    refusals = [r for r in caplog.records if "not produced" in r.getMessage()]
    assert len(refusals) == 2  # periods 3 and 4, once each
    assert all("ε" in r.getMessage() for r in refusals)


async def test_backfill_is_bounded(hs: Homeserver) -> None:
    await make_app(hs, created=datetime(2020, 1, 1, tzinfo=UTC))
    assert (
        await build_report_scheduler(hs, build_services(hs), interval_s=3600).tick() == MAX_BACKFILL
    )


async def test_started_it_produces_on_its_own_and_stops(hs: Homeserver) -> None:
    app = await make_app(hs)
    service = build_services(hs).reports
    scheduler = build_report_scheduler(hs, build_services(hs), interval_s=0.01)
    await scheduler.start()
    for _ in range(500):
        if len(await service.list_for_app(app.client_id)) == 4:
            break
        await asyncio.sleep(0.01)
    await scheduler.stop()
    await scheduler.stop()  # idempotent
    assert len(await service.list_for_app(app.client_id)) == 4  # the four ended periods
    clock = hs.clock
    assert isinstance(clock, FakeClock)
    clock.set_ms(int((NOW + timedelta(days=14)).timestamp() * 1000))
    await asyncio.sleep(0.05)
    assert len(await service.list_for_app(app.client_id)) == 4  # stopped: no new period
