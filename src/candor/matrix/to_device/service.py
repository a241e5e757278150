"""To-device messages: Olm-encrypted key shares and verification requests between devices.

A send is one work item of the event persister: it claims one stream position for all
its rows, so /sync delivers them in commit order and a long-poll wakes at once. The
transaction id is recorded in the same transaction, which makes a retry a no-op.
https://spec.matrix.org/v1.11/client-server-api/#send-to-device-messaging
"""

from candor.core.canonical_json import encode_canonical
from candor.core.ids import UserID
from candor.matrix.constants import MAX_TO_DEVICE_BYTES
from candor.matrix.devices import facts as devices_facts
from candor.matrix.errors import BadJson, Codes, InvalidParam, MatrixError
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.matrix.to_device import repository as repo

ALL_DEVICES = "*"
MAX_TARGETS = 10_000


class ToDeviceService:
    def __init__(self, persister: EventPersister, ratelimiter: RateLimiter) -> None:
        self._persister = persister
        self._ratelimiter = ratelimiter

    async def send(
        self, requester: Requester, event_type: str, txn_id: str, messages: object
    ) -> None:
        if not event_type or len(event_type) > 255 or not txn_id or len(txn_id) > 255:
            raise InvalidParam("Invalid event type or transaction id")
        targets = _parse_messages(messages)
        await self._ratelimiter.check(requester.user_id)
        sender, sender_device = requester.user_id, requester.device_id

        async def work(ctx: WriteContext) -> None:
            if await repo.has_txn(ctx.conn, sender, sender_device, txn_id):
                return  # a retry: the first send was delivered
            await repo.add_txn(ctx.conn, sender, sender_device, txn_id, ctx.clock.now_ms())
            rows: list[tuple[str, str, str]] = []
            explicit = [
                (u, d) for u, by_device in targets.items() for d in by_device if d != ALL_DEVICES
            ]
            existing = await devices_facts.existing_devices(ctx.conn, explicit)
            for user_id, by_device in targets.items():
                if ALL_DEVICES in by_device:
                    for device_id in await devices_facts.device_ids(ctx.conn, user_id):
                        rows.append((user_id, device_id, by_device[ALL_DEVICES]))
                for device_id, raw in by_device.items():
                    # Unknown devices are dropped, as the spec allows: nobody could read them.
                    if device_id != ALL_DEVICES and (user_id, device_id) in existing:
                        rows.append((user_id, device_id, raw))
            unique = list({(u, d): (u, d, c) for u, d, c in rows}.values())
            if unique:
                await repo.add_messages(
                    ctx.conn, unique, pos=ctx.next_position(), sender=sender, event_type=event_type
                )
                ctx.users.update(u for u, _, _ in unique)

        await self._persister.run(work)


def _parse_messages(messages: object) -> dict[str, dict[str, str]]:
    """user id → device id (or "*") → canonical JSON content, validated before any write."""
    if not isinstance(messages, dict):
        raise BadJson("messages must be an object of user id → device id → content")
    out: dict[str, dict[str, str]] = {}
    count = 0
    for raw_user, by_device in messages.items():
        user_id = str(UserID.parse(raw_user))
        if not isinstance(by_device, dict):
            raise BadJson("messages must be an object of user id → device id → content")
        for device_id, content in by_device.items():
            if not device_id or len(device_id) > 255:
                raise InvalidParam("Invalid device id")
            if not isinstance(content, dict):
                raise BadJson("Each to-device message must be an object")
            raw = encode_canonical(content)
            if len(raw) > MAX_TO_DEVICE_BYTES:
                raise MatrixError(413, Codes.TOO_LARGE, "To-device message is too large")
            out.setdefault(user_id, {})[device_id] = raw.decode()
            count += 1
    if count > MAX_TARGETS:
        raise InvalidParam("Too many to-device messages in one request")
    return out
