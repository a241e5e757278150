"""The push gateway worker: posts queued notifications to each pusher's gateway.

https://spec.matrix.org/v1.11/push-gateway-api/#post_matrixpushv1notify (Sygnal's API)

The send path only queues (`push_deliveries`, in the event's transaction); this worker,
started with `candor serve`, posts them, so a slow or dead gateway never slows a send.
No transaction is open during a request: a claim leases rows (as the webhook queue does),
the post runs, and the outcome is a second short transaction. A 2xx ends the delivery
(its `rejected` pushkeys delete their pushers, as the spec requires); a 5xx, a 429, a
timeout or a refused connection is retried with exponential backoff up to
`push.max_attempts` (so is a name that does not resolve, or resolves to a refused
address); any other answer, a URL whose spelling the guard now refuses, a deleted pusher
or event ends it with a log line. The queue survives restarts; a delivery is at least once,
and gateways suppress duplicates by `event_id` (the spec asks them to).

Privacy: in an encrypted room the payload carries ids, the event type, the sender and the
counts, never content, room names or display names (the gateway is a third party, and
behind it Apple's or Google's push service). `format: event_id_only` (the pusher's, or
`push.event_id_only` for every pusher) sends only ids and counts. The gateway's address
passes the webhook guard at every post (`core/outbound.py`): the name is resolved once,
every address is checked, and the connection goes to a checked address.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import httpx

from candor.core.canonical_json import JsonDict, decode, encode
from candor.core.clock import Clock
from candor.core.outbound import (
    AddressRefused,
    LazyClient,
    Resolver,
    post_guarded,
    system_resolve,
)
from candor.core.urls import UrlRefused, check_webhook_url
from candor.matrix.constants import EventType
from candor.matrix.events import facts as events_facts
from candor.matrix.push import counting
from candor.matrix.push import repository as repo
from candor.matrix.push.evaluate import tweaks_of
from candor.matrix.push.pushers import EVENT_ID_ONLY, PushersService
from candor.matrix.push.repository import PusherRow, QueuedPush
from candor.matrix.rooms import facts as rooms_facts
from candor.store.db import Database

logger = logging.getLogger(__name__)

CLAIM_BATCH = 32
MAX_ANSWER_BYTES = 65536


@dataclass(frozen=True, slots=True)
class PushRetry:
    """Exponential backoff: the wait after attempt n (1-based) is initial * 2^(n-1), at
    most `max_ms`; after `max_attempts` failed attempts the delivery is dropped."""

    initial_ms: int = 1000
    max_ms: int = 3_600_000
    max_attempts: int = 20

    def delay_ms(self, attempts: int) -> int:
        return int(min(self.initial_ms * 2 ** min(attempts - 1, 40), self.max_ms))


class _Final(Exception):
    """No retry can help (a refused URL, a 4xx): drop the delivery."""


class _Retry(Exception):
    """A failure a later attempt may not meet (a 5xx, a 429, an unresolvable name)."""


def device_json(pusher: PusherRow, actions: str) -> JsonDict:
    """The `devices` entry: the pusher's data minus `url`, and the rule's tweaks."""
    data = {k: v for k, v in pusher.data.items() if k != "url"}
    found = decode(actions)
    return {
        "app_id": pusher.app_id,
        "pushkey": pusher.pushkey,
        "pushkey_ts": pusher.ts // 1000,
        "data": data,
        "tweaks": tweaks_of(found if isinstance(found, list) else []),
    }


class PushGatewayWorker:
    """Delivers due pushes; one per process, started and stopped with the app. Tests call
    `run_once` with a `FakeClock`."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        pushers: PushersService,
        allow_private_networks: bool,
        event_id_only: bool,
        retry: PushRetry,
        timeout_s: float = 15.0,
        poll_interval_s: float = 5.0,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._db = db
        self._clock = clock
        self._pushers = pushers
        self._allow_private = allow_private_networks
        self._event_id_only = event_id_only
        self._retry = retry
        self._timeout_s = timeout_s
        self._poll_interval_s = poll_interval_s
        self._resolve = resolve
        # The lease outlives the longest request, so a live worker never loses its row.
        self._lease_ms = int(timeout_s * 1000) * 2 + 30_000
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="push-gateway")

    async def stop(self) -> None:
        """Stop; a post in flight is cancelled and its lease lets it go again later."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Deliver now rather than at the next poll (the recorder calls it after a commit
        that queued pushes)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # a database outage must not end the worker; next poll retries
                logger.exception("push delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    async def run_once(self) -> int:
        """Attempt every delivery due now; returns the number of attempts made."""
        made = 0
        async with LazyClient(self._timeout_s) as client:
            while True:
                async with self._db.write() as conn:
                    batch = await repo.claim_due(
                        conn, self._clock.now_ms(), self._lease_ms, CLAIM_BATCH
                    )
                await asyncio.gather(*(self._attempt(client.get(), d) for d in batch))
                made += len(batch)
                if len(batch) < CLAIM_BATCH:
                    return made

    async def _attempt(self, client: httpx.AsyncClient, queued: QueuedPush) -> None:
        try:
            pusher, payload = await self._prepare(queued)
        except _Final as exc:
            logger.info("push %d dropped: %s", queued.id, exc)
            await self._finish(queued.id)
            return
        try:
            rejected = await self._post(client, pusher, payload)
        except _Final as exc:
            logger.warning("push %d to pusher %d dropped: %s", queued.id, pusher.id, exc)
            await self._finish(queued.id)
            return
        except (TimeoutError, httpx.HTTPError, _Retry) as exc:
            await self._failed(queued, f"{type(exc).__name__}: {exc}")
            return
        await self._finish(queued.id)
        if pusher.pushkey in rejected:
            logger.info("pusher %d rejected by its gateway: removed", pusher.id)
            await self._pushers.remove_rejected(pusher.id, pusher.user_id)

    async def _prepare(self, queued: QueuedPush) -> tuple[PusherRow, JsonDict]:
        async with self._db.read() as conn:
            pusher = await repo.get_pusher(conn, queued.pusher_id)
            if pusher is None:
                raise _Final("the pusher was removed")
            found = await events_facts.events_at(conn, [queued.stream_pos])
            if not found:
                raise _Final("the event is gone")
            event = found[0]
            unread = 0
            for room_id in await rooms_facts.joined_rooms(conn, queued.user_id):
                unread += (await counting.count_unread(conn, room_id, queued.user_id)).total()[0]
            notification: JsonDict = {
                "event_id": event.event_id,
                "room_id": event.room_id,
                "counts": {"unread": unread} if unread else {},
                "devices": [device_json(pusher, queued.actions)],
            }
            actions = decode(queued.actions)
            tweaks = tweaks_of(actions if isinstance(actions, list) else [])
            high = event.type == EventType.ENCRYPTED or queued.highlight or "sound" in tweaks
            notification["prio"] = "high" if high else "low"
            if self._event_id_only or pusher.data.get("format") == EVENT_ID_ONLY:
                return pusher, {"notification": notification}
            notification["type"] = event.type
            notification["sender"] = event.sender
            if event.type == EventType.MEMBER:
                notification["user_is_target"] = event.state_key == queued.user_id
            facts = (await rooms_facts.room_facts(conn, [event.room_id])).get(event.room_id)
            if facts is not None and facts.encrypted:
                return pusher, {"notification": notification}
            name = await rooms_facts.member_display_name(conn, event.room_id, event.sender)
            if name is not None:
                notification["sender_display_name"] = name
            room_name = await rooms_facts.room_name(conn, event.room_id)
            if room_name is not None:
                notification["room_name"] = room_name
            notification["content"] = event.content
        return pusher, {"notification": notification}

    async def _post(
        self, client: httpx.AsyncClient, pusher: PusherRow, payload: JsonDict
    ) -> set[str]:
        """POST to the pusher's gateway; the pushkeys it rejected. Raises `_Final` when no
        retry can help, `_Retry` (or an httpx error, a timeout) when one may."""
        url = pusher.data.get("url")
        try:
            checked = check_webhook_url(
                str(url), allow_private_networks=self._allow_private, what="the push gateway URL"
            )
        except UrlRefused as exc:
            raise _Final(exc.message) from None
        body = encode(payload)
        headers = {"content-type": "application/json"}
        async with asyncio.timeout(self._timeout_s):
            try:
                status, answer = await post_guarded(
                    client,
                    checked,
                    body,
                    headers,
                    resolve=self._resolve,
                    allow_private_networks=self._allow_private,
                    max_answer_bytes=MAX_ANSWER_BYTES,
                )
            except AddressRefused as exc:
                # A name that does not resolve may resolve later; one that resolves to a
                # refused address keeps being refused until the attempts run out.
                raise _Retry(str(exc)) from None
        if status == 429 or status >= 500:
            raise _Retry(f"the gateway answered {status}")
        if not 200 <= status < 300:
            raise _Final(f"the gateway answered {status}")
        return _rejected(answer)

    async def _failed(self, queued: QueuedPush, reason: str) -> None:
        attempts = queued.attempts + 1
        if attempts >= self._retry.max_attempts:
            logger.warning("push %d dropped after %d attempts: %s", queued.id, attempts, reason)
            await self._finish(queued.id)
            return
        logger.info("push %d attempt %d failed: %s", queued.id, attempts, reason)
        async with self._db.write() as conn:
            await repo.retry_delivery(
                conn, queued.id, attempts, self._clock.now_ms() + self._retry.delay_ms(attempts)
            )

    async def _finish(self, delivery_id: int) -> None:
        async with self._db.write() as conn:
            await repo.finish_delivery(conn, delivery_id)


def _rejected(answer: bytes) -> set[str]:
    """The `rejected` pushkeys of a gateway's answer (none when it is not that JSON)."""
    try:
        found = decode(answer)
    except ValueError:
        return set()
    rejected = found.get("rejected") if isinstance(found, dict) else None
    if not isinstance(rejected, list):
        return set()
    return {k for k in rejected if isinstance(k, str)}
