"""Wire models for people search. Matrix bodies allow extra fields."""

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class UserSearchBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    search_term: StrictStr = Field(max_length=1000)
    # The spec's default; more than the service's maximum is answered with the maximum.
    limit: StrictInt = Field(10, ge=0)
