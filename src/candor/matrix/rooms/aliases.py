"""Room aliases: resolving `#name:server` to a room id, and the directory's set and delete.

Why apart from the write path (`service.py`): an alias is a pointer to a room in its own
table, not a room event. It needs no persister and no auth rules beyond membership and
who created it; joining by alias and `GET /directory/room` share `resolve_room`.
"""

from candor.core.ids import RoomAlias, RoomID
from candor.matrix.constants import HistoryVisibility, Membership
from candor.matrix.errors import Codes, Forbidden, InvalidParam, MatrixError, NotFound
from candor.matrix.requester import Requester
from candor.matrix.rooms import repository as repo
from candor.store.db import Database


class RoomAliasesService:
    def __init__(self, db: Database, *, server_name: str) -> None:
        self._db = db
        self._server_name = server_name

    @property
    def server_name(self) -> str:
        """The one server an alias here resolves on (`GET /directory/room`'s `servers`)."""
        return self._server_name

    async def resolve_room(self, room_id_or_alias: str) -> str:
        if room_id_or_alias.startswith("#"):
            alias = str(RoomAlias.parse(room_id_or_alias))
            async with self._db.read() as conn:
                room_id = await repo.get_alias(conn, alias)
            if room_id is None:
                raise NotFound("Room alias not found")
            return room_id
        return str(RoomID.parse(room_id_or_alias))

    async def set_alias(self, requester: Requester, alias: str, room_id: str) -> None:
        alias = str(RoomAlias.parse(alias))
        room_id = str(RoomID.parse(room_id))
        if alias.split(":", 1)[1] != self._server_name:
            raise InvalidParam("Alias must be on this server")
        async with self._db.write() as conn:
            member = await repo.get_membership(conn, room_id, requester.user_id)
            if member is None or member.membership != Membership.JOIN:
                raise Forbidden("You are not in this room")
            try:
                await repo.add_alias(conn, alias, room_id, requester.user_id)
            except repo.AliasExists:
                raise MatrixError(409, Codes.UNKNOWN, "Room alias already exists") from None

    async def local_aliases(self, requester: Requester, room_id: str) -> list[str]:
        """`GET /rooms/{roomId}/aliases`: for members, or anyone if the room's history is
        world-readable; the same 403 whether the room is missing or private."""
        room_id = str(RoomID.parse(room_id))
        async with self._db.read() as conn:
            member = await repo.get_membership(conn, room_id, requester.user_id)
            rules = await repo.get_room_rules(conn, room_id)
            joined = member is not None and member.membership == Membership.JOIN
            readable = (
                rules is not None and rules.history_visibility == HistoryVisibility.WORLD_READABLE
            )
            if not (joined or readable):
                raise Forbidden("You are not a member of the room")
            return await repo.list_room_aliases(conn, room_id)

    async def delete_alias(self, requester: Requester, alias: str) -> None:
        alias = str(RoomAlias.parse(alias))
        async with self._db.write() as conn:
            creator = await repo.get_alias_creator(conn, alias)
            if creator is None:
                raise NotFound("Room alias not found")
            if creator != requester.user_id and not requester.is_admin:
                raise Forbidden("You may only delete aliases you created")
            await repo.delete_alias(conn, alias)
