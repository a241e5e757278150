"""Rooms, aliases, current state and memberships (a denormalised view of current state)."""

from sqlalchemy import BigInteger, Boolean, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class Room(Base):
    """A room, with the two rules people search by kept beside it.

    `join_rule` and `history_visibility` copy the room's current state (the event
    persister writes them with the state event), so the user directory and the published
    room list can ask "is this room public?" in SQL instead of parsing event JSON.
    """

    __tablename__ = "rooms"
    __table_args__ = (Index("ix_rooms_published", "published"),)

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    creator: Mapped[str] = mapped_column(String(255))
    room_version: Mapped[str] = mapped_column(String(32))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    # Listed in the published room directory (`/publicRooms`).
    published: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    join_rule: Mapped[str | None] = mapped_column(String(32))
    history_visibility: Mapped[str | None] = mapped_column(String(32))


class RoomAlias(Base):
    __tablename__ = "room_aliases"

    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    creator: Mapped[str] = mapped_column(String(255))


class CurrentState(Base):
    __tablename__ = "current_state"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255), primary_key=True)
    state_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255))
    stream_pos: Mapped[int] = mapped_column(BigInteger)


class RoomMembership(Base):
    """The current membership of each user in each room, kept with current_state."""

    __tablename__ = "room_memberships"
    __table_args__ = (
        Index("ix_room_memberships_user", "user_id", "membership"),
        # /sync reads the memberships that changed in a room since a position.
        Index("ix_room_memberships_room_pos", "room_id", "stream_pos"),
    )

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    membership: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    stream_pos: Mapped[int] = mapped_column(BigInteger)
    forgotten: Mapped[bool] = mapped_column(Boolean, default=False)
