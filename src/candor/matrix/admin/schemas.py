"""Wire models of the admin API's directory lists (`/users`, `/rooms`)."""

from pydantic import BaseModel, Field


class AdminUser(BaseModel):
    user_id: str
    displayname: str | None = None
    admin: bool
    deactivated: bool
    created_ts: int = Field(description="When the account was made, in ms since the epoch")


class AdminUsersResponse(BaseModel):
    users: list[AdminUser]
    next_from: str | None = Field(
        default=None, description="Absent on the last page; else pass it as `from`"
    )


class AdminRoom(BaseModel):
    room_id: str
    name: str | None = Field(default=None, description="The m.room.name state, if set")
    joined_members: int
    encrypted: bool = Field(description="Whether m.room.encryption is set (content is ciphertext)")
    created_ts: int


class AdminRoomsResponse(BaseModel):
    rooms: list[AdminRoom]
    next_from: str | None = Field(
        default=None, description="Absent on the last page; else pass it as `from`"
    )
