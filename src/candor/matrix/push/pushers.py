"""Pushers: where a user's notifications are posted (`GET /pushers`, `POST /pushers/set`).

https://spec.matrix.org/v1.11/client-server-api/#post_matrixclientv3pushersset

Only `http` pushers exist here (Candor sends no e-mail). The gateway URL passes the same
guard as partner webhooks (`core/urls.py`, `core/outbound.py`): https, a host outside the
operator's network (checked again, address by address, when posting), and the path the
spec requires, `/_matrix/push/v1/notify`. Changes are persister items, so the recorder's
cached "who has pushers" changes in commit order with the sends it affects.
"""

from ada_url import URL

from candor.core.canonical_json import JsonDict, encode_canonical
from candor.core.clock import Clock
from candor.core.urls import UrlRefused, check_webhook_url
from candor.matrix.errors import Codes, InvalidParam, MatrixError
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.push import repository as repo
from candor.matrix.push.recorder import NotificationRecorder
from candor.matrix.push.repository import PusherRow
from candor.matrix.push.schemas import PusherBody
from candor.matrix.requester import Requester
from candor.store.db import Database

NOTIFY_PATH = "/_matrix/push/v1/notify"
EVENT_ID_ONLY = "event_id_only"
MAX_APP_ID = 64
MAX_PUSHKEY_BYTES = 512
MAX_TEXT = 256
MAX_DATA_BYTES = 4096
MAX_PUSHERS_PER_USER = 32


def check_gateway_url(url: object, *, allow_private_networks: bool) -> str:
    """The pusher's `data.url` as it will be posted to, or `M_INVALID_PARAM` saying why."""
    if not isinstance(url, str):
        raise InvalidParam("An http pusher needs data.url, the push gateway's URL")
    try:
        checked = check_webhook_url(
            url, allow_private_networks=allow_private_networks, what="the push gateway URL"
        )
    except UrlRefused as exc:
        raise InvalidParam(exc.message) from None
    parsed = URL(checked.href)
    if parsed.pathname != NOTIFY_PATH or checked.has_fragment:
        raise InvalidParam(f"The push gateway URL's path must be {NOTIFY_PATH}")
    return checked.href


def pusher_json(p: PusherRow) -> JsonDict:
    out: JsonDict = {
        "pushkey": p.pushkey,
        "kind": p.kind,
        "app_id": p.app_id,
        "app_display_name": p.app_display_name,
        "device_display_name": p.device_display_name,
        "lang": p.lang,
        "data": p.data,
    }
    if p.profile_tag is not None:
        out["profile_tag"] = p.profile_tag
    return out


class PushersService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        persister: EventPersister,
        recorder: NotificationRecorder,
        *,
        allow_private_networks: bool,
    ) -> None:
        self._db = db
        self._clock = clock
        self._persister = persister
        self._recorder = recorder
        self._allow_private = allow_private_networks

    async def list_pushers(self, requester: Requester) -> list[JsonDict]:
        async with self._db.read() as conn:
            return [pusher_json(p) for p in await repo.list_pushers(conn, requester.user_id)]

    async def set_pusher(self, requester: Requester, body: PusherBody) -> None:
        user_id = requester.user_id
        if not body.app_id or len(body.app_id) > MAX_APP_ID:
            raise InvalidParam(f"app_id must have 1 to {MAX_APP_ID} characters")
        if not body.pushkey or len(body.pushkey.encode()) > MAX_PUSHKEY_BYTES:
            raise InvalidParam(f"pushkey must have 1 to {MAX_PUSHKEY_BYTES} bytes")
        if body.kind is None:
            await self._delete(user_id, body.app_id, body.pushkey)
            return
        row = self._checked_row(requester, body)

        async def work(ctx: WriteContext) -> None:
            mine = await repo.list_pushers(ctx.conn, user_id)
            known = any(p.app_id == body.app_id and p.pushkey == body.pushkey for p in mine)
            if not known and len(mine) >= MAX_PUSHERS_PER_USER:
                raise InvalidParam(f"At most {MAX_PUSHERS_PER_USER} pushers per user")
            await repo.set_pusher(ctx.conn, row)
            if not body.append:
                for other in await repo.delete_other_users_pushers(
                    ctx.conn, user_id, body.app_id, body.pushkey
                ):
                    self._recorder.forget(other)
            self._recorder.forget(user_id)

        await self._persister.run(work)

    def _checked_row(self, requester: Requester, body: PusherBody) -> dict[str, object]:
        if body.kind == "email":
            raise InvalidParam("This server sends no e-mail: only http pushers are supported")
        if body.kind != "http":
            raise InvalidParam(f"Unknown pusher kind {str(body.kind)[:50]!r}")
        missing = [
            name
            for name in ("app_display_name", "device_display_name", "lang", "data")
            if getattr(body, name) is None
        ]
        if missing:
            raise MatrixError(400, Codes.MISSING_PARAM, f"Missing parameters: {', '.join(missing)}")
        assert body.data is not None  # noqa: S101 - checked just above
        for name in ("app_display_name", "device_display_name", "lang", "profile_tag"):
            value = getattr(body, name)
            if value is not None and len(value) > MAX_TEXT:
                raise InvalidParam(f"{name} must have at most {MAX_TEXT} characters")
        data = dict(body.data)
        data["url"] = check_gateway_url(data.get("url"), allow_private_networks=self._allow_private)
        if "format" in data and data["format"] != EVENT_ID_ONLY:
            raise InvalidParam(f"The only pusher data.format is {EVENT_ID_ONLY!r}")
        encoded = encode_canonical(data)
        if len(encoded) > MAX_DATA_BYTES:
            raise InvalidParam(f"Pusher data must be at most {MAX_DATA_BYTES} bytes")
        return {
            "user_id": requester.user_id,
            "device_id": requester.device_id,
            "kind": body.kind,
            "app_id": body.app_id,
            "pushkey": body.pushkey,
            "app_display_name": body.app_display_name,
            "device_display_name": body.device_display_name,
            "profile_tag": body.profile_tag,
            "lang": body.lang,
            "data": encoded.decode(),
            "ts": self._clock.now_ms(),
        }

    async def _delete(self, user_id: str, app_id: str, pushkey: str) -> None:
        """`kind: null`: delete the pusher; deleting one that does not exist is no error."""

        async def work(ctx: WriteContext) -> None:
            await repo.delete_pusher(ctx.conn, user_id, app_id, pushkey)
            self._recorder.forget(user_id)

        await self._persister.run(work)

    async def delete_for_devices(
        self, ctx: WriteContext, user_id: str, device_ids: list[str] | None
    ) -> None:
        """Inside the caller's persister item (a logout, a deleted device): the pushers those
        devices set go with them, so a phone that logged out stops receiving pushes."""
        if await repo.delete_device_pushers(ctx.conn, user_id, device_ids):
            self._recorder.forget(user_id)

    async def remove_rejected(self, pusher_id: int, user_id: str) -> None:
        """A gateway said the pushkey is no longer valid: the pusher goes (the spec:
        "Homeservers must cease sending notification requests for these pushkeys and remove
        the associated pushers"), through the persister so the recorder stops queueing."""

        async def work(ctx: WriteContext) -> None:
            await repo.delete_pushers_by_id(ctx.conn, [pusher_id])
            self._recorder.forget(user_id)

        await self._persister.run(work)
