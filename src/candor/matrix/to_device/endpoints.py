"""PUT /sendToDevice/{eventType}/{txnId}.

https://spec.matrix.org/v1.11/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.auth import RequesterDep
from candor.matrix.errors import MissingParam
from candor.matrix.http import CLIENT_PREFIX, Provided, empty_response
from candor.matrix.to_device.service import ToDeviceService

router = APIRouter(prefix=CLIENT_PREFIX)


ToDeviceDep = Annotated[ToDeviceService, Depends(Provided(ToDeviceService))]


@router.put("/sendToDevice/{event_type}/{txn_id}")
async def send_to_device(
    event_type: str,
    txn_id: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    to_device: ToDeviceDep,
) -> Response:
    """Answers exactly `{}`, as the spec says, whatever was delivered."""
    if "messages" not in body:
        raise MissingParam("Missing messages")
    await to_device.send(requester, event_type, txn_id, body["messages"])
    return empty_response()
