"""Wire models of the partner API's OAuth-protected part (`/partner/v1/me`)."""

from pydantic import BaseModel, ConfigDict


class MeResponse(BaseModel):
    """`GET /partner/v1/me` (scope `profile`): who the token speaks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str
    """The person's Matrix user ID."""
    displayname: str | None
    """Their display name, or null if they set none."""
