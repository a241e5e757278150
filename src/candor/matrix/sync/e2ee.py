"""The end-to-end encryption parts of a /sync response.

`to_device.events` holds the device's pending to-device messages (at most
`TO_DEVICE_LIMIT`); they stay on the server until a later request acknowledges them by
sending the token of the response that delivered them (its to-device part), and are
then deleted. `device_lists` says whose keys to re-fetch, and the key counts tell the
client when to upload more one-time keys or a new fallback key.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict, decode_dict
from candor.matrix.constants import KeyAlgorithm
from candor.matrix.keys.device_lists import WindowChanges, resolve_device_lists
from candor.matrix.requester import Requester
from candor.matrix.sync import repository as repo
from candor.matrix.sync.tokens import SyncToken
from candor.matrix.to_device import facts as to_device_facts
from candor.store.db import Database, NowReads

TO_DEVICE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class E2eeSections:
    to_device: list[JsonDict]
    # The position up to which this response delivered to-device messages, if any.
    to_device_upto: int | None
    changed: list[str]
    left: list[str]
    one_time_key_counts: dict[str, int]
    unused_fallback_key_types: list[str]

    def is_empty(self) -> bool:
        """Whether a long-poll has anything to return (key counts alone are not news)."""
        return not (self.to_device or self.changed or self.left)

    def apply(self, response: JsonDict) -> None:
        response["to_device"] = {"events": self.to_device}
        response["device_lists"] = {"changed": self.changed, "left": self.left}
        response["device_one_time_keys_count"] = self.one_time_key_counts
        response["device_unused_fallback_key_types"] = self.unused_fallback_key_types


async def acknowledge_to_device(db: Database, requester: Requester, since: SyncToken) -> None:
    """Delete what the response that produced `since` delivered: the client has it now."""
    if since.to_device is not None:
        async with db.write() as conn:
            await to_device_facts.delete_delivered(
                conn, requester.user_id, requester.device_id, since.to_device
            )


async def build_e2ee(
    conn: AsyncConnection, requester: Requester, since: SyncToken | None, upto: int
) -> E2eeSections:
    user_id, device_id = requester.user_id, requester.device_id
    if since is None:
        delivered_upto = 0
    elif since.to_device is not None:
        delivered_upto = since.to_device
    else:
        # A token without a to-device part came from a response that delivered nothing,
        # so every message up to its position was delivered and acknowledged before.
        delivered_upto = min(since.position, upto)
    rows = await repo.list_sync_rows(
        conn,
        user_id,
        device_id,
        # An initial sync reports no device-list changes: an empty window.
        after=upto if since is None else min(since.position, upto),
        delivered=delivered_upto,
        upto=upto,
        limit=TO_DEVICE_LIMIT,
    )
    changed, left = await resolve_device_lists(
        conn, user_id, WindowChanges(rows.key_changes, rows.memberships)
    )
    counts = dict(rows.one_time_key_counts)
    counts.setdefault(KeyAlgorithm.SIGNED_CURVE25519, 0)
    return E2eeSections(
        to_device=[
            {"sender": sender, "type": ev_type, "content": decode_dict(content)}
            for _, sender, ev_type, content in rows.to_device
        ],
        to_device_upto=rows.to_device[-1][0] if rows.to_device else None,
        changed=changed,
        left=left,
        one_time_key_counts=counts,
        unused_fallback_key_types=rows.unused_fallback_key_types,
    )


async def key_counts_now(now: NowReads, requester: Requester) -> E2eeSections:
    """The E2EE part of a /sync whose window holds no to-device message, device-list or
    membership change: only the key counts, read outside any snapshot (they are not on
    the stream, so no snapshot could pin them anyway)."""
    counts, unused = await repo.key_counts_now(now, requester.user_id, requester.device_id)
    counts.setdefault(KeyAlgorithm.SIGNED_CURVE25519, 0)
    return E2eeSections([], None, [], [], counts, unused)
