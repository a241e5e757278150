"""Room tags (`m.tag`): a person's own labels on rooms, such as favourites or low priority.

Why a service of its own: the spec stores tags as the room account data `m.tag`, but
clients change them one tag at a time, so each change is a read-modify-write of that
object. It runs as one event-persister work item, so two tags added at once both stay, and
the new `m.tag` reaches the person's other sessions through /sync like any account data.
https://spec.matrix.org/v1.11/client-server-api/#room-tagging
"""

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import repository as repo
from candor.matrix.errors import BadJson, Forbidden, InvalidParam
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.requester import Requester
from candor.store.db import Database

TAG_TYPE = "m.tag"
MAX_TAG_LENGTH = 255


class TagsService:
    def __init__(self, db: Database, persister: EventPersister) -> None:
        self._db = db
        self._persister = persister

    async def tags(self, requester: Requester, user_id: str, room_id: str) -> JsonDict:
        """`{"tags": {...}}`: the person's tags on the room (empty if none)."""
        _check_own(requester, user_id)
        async with self._db.read() as conn:
            found = await repo.get_account_data(conn, user_id, room_id, TAG_TYPE)
        return {"tags": _tags_of(found)}

    async def set_tag(
        self, requester: Requester, user_id: str, room_id: str, tag: str, body: JsonDict
    ) -> None:
        """Add or replace one tag; `order`, if given, is a number in [0, 1] (the spec's)."""
        _check_own(requester, user_id)
        _check_tag(tag)
        order = body.get("order")
        if order is not None:
            if isinstance(order, bool) or not isinstance(order, int | float):
                raise BadJson("order must be a number")
            if not 0 <= order <= 1:
                raise InvalidParam("order must be between 0 and 1")

        async def work(ctx: WriteContext) -> None:
            found = await repo.get_account_data(ctx.conn, user_id, room_id, TAG_TYPE)
            tags = {**_tags_of(found), tag: body}
            await repo.set_account_data(
                ctx.conn, user_id, room_id, TAG_TYPE, {"tags": tags}, ctx.next_position()
            )
            ctx.users.add(user_id)

        await self._persister.run(work)

    async def delete_tag(self, requester: Requester, user_id: str, room_id: str, tag: str) -> None:
        """Remove one tag; removing a tag the room does not have changes nothing (the spec
        answers 200 either way)."""
        _check_own(requester, user_id)
        _check_tag(tag)

        async def work(ctx: WriteContext) -> None:
            found = await repo.get_account_data(ctx.conn, user_id, room_id, TAG_TYPE)
            tags = _tags_of(found)
            if tag not in tags:
                return
            del tags[tag]
            await repo.set_account_data(
                ctx.conn, user_id, room_id, TAG_TYPE, {"tags": tags}, ctx.next_position()
            )
            ctx.users.add(user_id)

        await self._persister.run(work)


def _check_own(requester: Requester, user_id: str) -> None:
    if user_id != requester.user_id:
        raise Forbidden("Cannot read or change another user's tags")


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > MAX_TAG_LENGTH:
        raise InvalidParam(f"A tag is 1 to {MAX_TAG_LENGTH} characters")


def _tags_of(content: JsonDict | None) -> dict[str, object]:
    """The tags in stored `m.tag` content; anything malformed counts as no tags."""
    tags = (content or {}).get("tags")
    return dict(tags) if isinstance(tags, dict) else {}
