"""The report scheduler inside `candor serve`: each ended period's reports, then delivery.

It keeps no state of its own: every tick asks the database which aligned periods have
ended without a report (`ReportsService.due`), so a restart simply resumes, and two
workers racing for one period end with one report (the unique key; see `service.py`).
A report that cannot be made (an exhausted ε budget) is logged once per period and
retried on the next start, not every tick.
"""

import asyncio
import contextlib
import logging

from candor.core.errors import CandorError
from candor.reports.deliver import DeliveryWorker
from candor.reports.service import ReportsService

logger = logging.getLogger(__name__)


class ReportScheduler:
    def __init__(
        self, *, reports: ReportsService, deliveries: DeliveryWorker, interval_s: float
    ) -> None:
        """`deliveries` is woken after each report (candor/wiring.py builds both)."""
        self._service = reports
        self._interval = interval_s
        self._refused: set[tuple[str, str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.deliveries = deliveries

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="report-scheduler")
        await self.deliveries.start()

    async def stop(self) -> None:
        await self.deliveries.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def tick(self) -> int:
        """Produce every due report; returns how many were made now."""
        made = 0
        for app, period in await self._service.due():
            key = (app.client_id, period.end.isoformat())
            if key in self._refused:
                continue
            try:
                await self._service.produce(app.client_id, period.end)
                made += 1
                self.deliveries.wake()
            except CandorError as exc:
                self._refused.add(key)
                logger.warning(
                    "report for %s ending %s not produced: %s", app.client_id, key[1], exc.message
                )
        return made

    async def _run(self) -> None:
        while True:
            try:
                made = await self.tick()
                if made:
                    logger.info("produced %d engagement report(s)", made)
            except Exception:
                # A database hiccup must not end the scheduler: the next tick retries.
                logger.exception("report scheduler tick failed")
            await asyncio.sleep(self._interval)
