"""Wire model of PUT /presence/{userId}/status.

https://spec.matrix.org/v1.11/client-server-api/#put_matrixclientv3presenceuseridstatus
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

# Not in the spec: a bound so a status line stays a line (clients show it beside a name).
MAX_STATUS_MSG = 1024


class PresenceBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    presence: Literal["online", "unavailable", "offline"]
    """The new presence state (required)."""
    status_msg: StrictStr | None = Field(None, max_length=MAX_STATUS_MSG)
    """The status message to attach to this state; absent or null clears it."""
