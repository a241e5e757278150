"""Wire models of room grants (`/_candor/v1/rooms/{roomId}/grants`, `/_candor/v1/grants`)."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from candor.partners.consent.service import Grant


class GrantRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: StrictStr = Field(description="The app to share the room with")
    days: StrictInt | None = Field(None, description="How long, 1 to 90 days (default 30)")
    include_history: StrictBool = Field(
        False,
        description="The asker's vote to include messages sent before the grant goes live; "
        "history is included only if every member ticks it",
    )


class GrantAcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_history: StrictBool | None = Field(
        None, description="Include earlier history (absent: keep the earlier choice, or no)"
    )


class GrantCreatedResponse(BaseModel):
    grant_id: str
    status: str = Field(description="pending, or live when the asker is the only member")


class MemberView(BaseModel):
    user_id: str
    decision: str = Field(description="pending | accepted | declined")
    include_history: bool


class GrantView(BaseModel):
    grant_id: str
    client_id: str
    app_name: str
    room_id: str
    room_name: str | None
    requested_by: str
    status: str = Field(description="pending | live | declined | revoked | voided | expired")
    days: int
    created_ts: int
    live_ts: int | None
    expires_ts: int | None
    ended_ts: int | None
    ended_reason: str | None
    agreement_version: int = Field(
        description="The app's agreement version the members were asked under; a newer "
        "version ends the grant"
    )
    my_decision: str | None = Field(description="The requesting person's answer")
    members: list[MemberView]
    waiting_for: list[str] = Field(description="Members who have not answered yet")

    @classmethod
    def of(cls, grant: Grant, user_id: str) -> "GrantView":
        mine = grant.answer_of(user_id)
        return cls(
            grant_id=grant.grant_id,
            client_id=grant.client_id,
            app_name=grant.app_name,
            room_id=grant.room_id,
            room_name=grant.room_name,
            requested_by=grant.requested_by,
            status=grant.status,
            days=grant.days,
            created_ts=grant.created_ts,
            live_ts=grant.live_ts,
            expires_ts=grant.expires_ts,
            ended_ts=grant.ended_ts,
            ended_reason=grant.ended_reason,
            agreement_version=grant.agreement_version,
            my_decision=None if mine is None else mine.decision,
            members=[
                MemberView(
                    user_id=m.user_id, decision=m.decision, include_history=m.include_history
                )
                for m in grant.members
            ],
            waiting_for=[m.user_id for m in grant.members if m.decision == "pending"],
        )


class GrantsResponse(BaseModel):
    grants: list[GrantView]
