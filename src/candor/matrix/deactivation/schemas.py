"""Wire model for POST /account/deactivate (extra fields allowed, as the spec lets clients)."""

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from candor.matrix.accounts.schemas import AuthDict


class DeactivateBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    auth: AuthDict | None = None
    # "Whether the user would like their content to be erased as much as possible from
    # the server." Absent means false.
    erase: StrictBool = False
    # The identity server to unbind third-party identifiers from: Candor keeps none.
    id_server: StrictStr | None = None
