"""Wire models for the key endpoints. Key objects stay opaque dicts: clients sign them."""

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from candor.matrix.accounts.schemas import AuthDict


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class KeysUploadBody(_Body):
    device_keys: dict[str, object] | None = None
    one_time_keys: dict[str, object] | None = None
    fallback_keys: dict[str, object] | None = None


class KeysQueryBody(_Body):
    """`device_keys`: user id → device ids; an empty list asks for every device."""

    device_keys: dict[StrictStr, list[StrictStr]] = Field(max_length=1000)
    timeout: StrictInt | None = None


class KeysClaimBody(_Body):
    """`one_time_keys`: user id → device id → algorithm."""

    one_time_keys: dict[StrictStr, dict[StrictStr, StrictStr]] = Field(max_length=1000)
    timeout: StrictInt | None = None


class DeviceSigningUploadBody(_Body):
    master_key: dict[str, object] | None = None
    self_signing_key: dict[str, object] | None = None
    user_signing_key: dict[str, object] | None = None
    auth: AuthDict | None = None
