"""Device management: /devices and /delete_devices.

https://spec.matrix.org/v1.11/client-server-api/#device-management
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from candor.matrix.accounts.service import AccountsService
from candor.matrix.auth import RequesterDep
from candor.matrix.devices.schemas import DeleteDevicesBody, DeviceDeleteBody, DeviceUpdateBody
from candor.matrix.devices.service import DevicesService
from candor.matrix.http import CLIENT_PREFIX, Provided, empty_response, json_response

router = APIRouter(prefix=CLIENT_PREFIX)


DevicesDep = Annotated[DevicesService, Depends(Provided(DevicesService))]
AccountsDep = Annotated[AccountsService, Depends(Provided(AccountsService))]


@router.get("/devices")
async def list_devices(requester: RequesterDep, devices: DevicesDep) -> Response:
    found = await devices.list_devices(requester)
    return json_response({"devices": [d.to_json() for d in found]})


@router.get("/devices/{device_id}")
async def get_device(device_id: str, requester: RequesterDep, devices: DevicesDep) -> Response:
    return json_response((await devices.get_device(requester, device_id)).to_json())


@router.put("/devices/{device_id}")
async def update_device(
    device_id: str, body: DeviceUpdateBody, requester: RequesterDep, devices: DevicesDep
) -> Response:
    await devices.rename(requester, device_id, body.display_name)
    return empty_response()


@router.delete("/devices/{device_id}")
async def delete_device(
    device_id: str,
    requester: RequesterDep,
    devices: DevicesDep,
    accounts: AccountsDep,
    body: Annotated[DeviceDeleteBody | None, Body()] = None,
) -> Response:
    """DELETE /devices/{deviceId}: 404 for a device that isn't the caller's, then UIA."""
    await devices.get_device(requester, device_id)
    await accounts.delete_devices(requester, [device_id], body.auth if body else None)
    return empty_response()


@router.post("/delete_devices")
async def delete_devices(
    body: DeleteDevicesBody, requester: RequesterDep, accounts: AccountsDep
) -> Response:
    await accounts.delete_devices(requester, body.devices, body.auth)
    return empty_response()
