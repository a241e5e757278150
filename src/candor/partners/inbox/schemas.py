"""Wire models of the Inbox API, for its OpenAPI document."""

from pydantic import BaseModel, Field


class GrantedRoom(BaseModel):
    room_id: str
    grant_id: str
    members: list[str] = Field(description="The joined members, every one of whom agreed")
    expires_ts: int = Field(description="When the grant ends (ms since the epoch)")


class RoomsResponse(BaseModel):
    rooms: list[GrantedRoom]
    log_index: int | None = Field(description="The transparency-log entry of this read")


class MessagesResponse(BaseModel):
    chunk: list[dict[str, object]] = Field(description="Matrix client events, oldest first")
    grant_id: str
    log_index: int | None = Field(description="The transparency-log entry of this read")
    next_from: int | None = Field(None, description="Pass as `from` for the next page")
