"""Wire models for device management."""

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from candor.matrix.accounts.schemas import AuthDict


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class DeviceUpdateBody(_Body):
    display_name: StrictStr | None = Field(None, max_length=256)


class DeviceDeleteBody(_Body):
    auth: AuthDict | None = None


class DeleteDevicesBody(_Body):
    devices: list[StrictStr] = Field(max_length=1000)
    auth: AuthDict | None = None
