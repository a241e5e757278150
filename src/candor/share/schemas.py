"""Wire models of `POST /partner/v1/shares`, for its OpenAPI document."""

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class ShareRequestBody(BaseModel):
    """A share the app proposes; checked like the launcher's query (domains, labels)."""

    model_config = ConfigDict(extra="forbid")

    url: StrictStr = Field(max_length=2000, description="On one of the app's domains")
    title: StrictStr = Field(max_length=200)
    description: StrictStr = Field("", max_length=1000)
    image: StrictStr | None = Field(None, max_length=2000)
    interface: StrictStr = Field(max_length=32, description="1-32 of [a-z0-9_-]")
    surface: StrictStr = Field(max_length=32, description="1-32 of [a-z0-9_-]")
    variant: StrictStr = Field(max_length=32, description="1-32 of [a-z0-9_-]")


class ShareRequestResponse(BaseModel):
    share_request_id: str
    confirm_url: str = Field(description="Send the person here: they pick and confirm")
