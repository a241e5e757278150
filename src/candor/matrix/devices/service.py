"""Devices: list, rename and delete a user's devices (each login is one device).

Deleting a device is more than a logout: its keys, one-time and fallback keys, the
signatures on it, the pushers it set and its undelivered to-device messages go too, and
everyone who shares a room with the user learns of it (`device_lists.changed`), so their
clients stop encrypting to a device that no longer exists. It runs in the event persister because
that change needs a stream position.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.devices import repository as repo
from candor.matrix.errors import NotFound
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.keys import facts as keys_facts
from candor.matrix.keys.device_lists import announce_key_change
from candor.matrix.push.pushers import PushersService
from candor.matrix.requester import Requester
from candor.matrix.to_device import facts as to_device_facts
from candor.store.db import Database


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    device_id: str
    display_name: str | None
    last_seen_ts: int | None

    def to_json(self) -> JsonDict:
        """The spec's `Device`: `display_name` is absent, not null, until one is set."""
        out: JsonDict = {"device_id": self.device_id}
        if self.display_name is not None:
            out["display_name"] = self.display_name
        if self.last_seen_ts is not None:
            out["last_seen_ts"] = self.last_seen_ts
        return out


class DevicesService:
    def __init__(
        self, db: Database, persister: EventPersister, tokens: TokenCache, pushers: PushersService
    ) -> None:
        self._db = db
        self._persister = persister
        self._tokens = tokens
        self._pushers = pushers

    async def list_devices(self, requester: Requester) -> list[DeviceInfo]:
        async with self._db.read() as conn:
            rows = await repo.list_devices(conn, requester.user_id)
        return [DeviceInfo(*r) for r in rows]

    async def get_device(self, requester: Requester, device_id: str) -> DeviceInfo:
        for device in await self.list_devices(requester):
            if device.device_id == device_id:
                return device
        raise NotFound("Unknown device")

    async def rename(self, requester: Requester, device_id: str, display_name: str | None) -> None:
        """The name is served to others in /keys/query, so a rename is a device-list change."""
        user_id = requester.user_id

        async def work(ctx: WriteContext) -> None:
            if device_id not in await repo.list_device_ids(ctx.conn, user_id):
                raise NotFound("Unknown device")
            if display_name is None:
                return
            await repo.set_device_display_name(ctx.conn, user_id, device_id, display_name)
            await announce_key_change(ctx, user_id)

        await self._persister.run(work)

    async def delete(self, user_id: str, device_ids: Sequence[str] | None) -> None:
        """Delete devices (None: all of them) with their tokens, keys and pending messages.

        The caller has authorised this (logout is its own authority; deleting another
        device took user-interactive auth). Unknown device ids are ignored.
        """

        async def work(ctx: WriteContext) -> None:
            existing = await repo.list_device_ids(ctx.conn, user_id)
            doomed = existing if device_ids is None else [d for d in existing if d in device_ids]
            # Tokens are deleted even without a device row: a token outlives nothing.
            await accounts_facts.delete_tokens(ctx.conn, user_id, device_ids)
            await repo.delete_devices(ctx.conn, user_id, device_ids)
            if not doomed:
                return
            # A phone that logged out must stop receiving its owner's notifications.
            await self._pushers.delete_for_devices(ctx, user_id, doomed)
            await keys_facts.delete_device_keys(ctx.conn, user_id, doomed)
            await to_device_facts.delete_for_devices(ctx.conn, user_id, doomed)
            await announce_key_change(ctx, user_id)

        await self._persister.run(work)
        self._tokens.forget_user(user_id)
