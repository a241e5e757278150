"""Key endpoints: /keys/upload, query, claim, changes, device_signing, signatures.

https://spec.matrix.org/v1.11/client-server-api/#key-management-api
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.auth import RequesterDep
from candor.matrix.http import (
    CLIENT_PREFIX,
    UNSTABLE_CLIENT_PREFIX,
    Provided,
    empty_response,
    json_response,
)
from candor.matrix.keys.schemas import (
    DeviceSigningUploadBody,
    KeysClaimBody,
    KeysQueryBody,
    KeysUploadBody,
)
from candor.matrix.keys.service import KeysService

router = APIRouter(prefix=CLIENT_PREFIX)
# matrix-js-sdk (so Element) still sends `MatrixClient.uploadDeviceSigningKeys` here: it is
# how Element asks, before setting up cross-signing, whether the password alone will do.
unstable_router = APIRouter(prefix=UNSTABLE_CLIENT_PREFIX, include_in_schema=False)


KeysDep = Annotated[KeysService, Depends(Provided(KeysService))]


@router.post("/keys/upload")
async def upload_keys(body: KeysUploadBody, requester: RequesterDep, keys: KeysDep) -> Response:
    """POST /keys/upload: device, one-time and fallback keys of the caller's device."""
    counts = await keys.upload(requester, body)
    return json_response({"one_time_key_counts": counts})


@router.post("/keys/query")
async def query_keys(body: KeysQueryBody, requester: RequesterDep, keys: KeysDep) -> Response:
    return json_response(await keys.query(requester, body.device_keys))


@router.post("/keys/claim")
async def claim_keys(body: KeysClaimBody, requester: RequesterDep, keys: KeysDep) -> Response:
    return json_response(await keys.claim(requester, body.one_time_keys))


@router.get("/keys/changes")
async def key_changes(
    requester: RequesterDep,
    keys: KeysDep,
    from_: Annotated[str, Query(alias="from", max_length=64)],
    to: Annotated[str, Query(max_length=64)],
) -> Response:
    return json_response(await keys.changes(requester, from_, to))


@router.post("/keys/device_signing/upload")
@unstable_router.post("/keys/device_signing/upload")
async def upload_cross_signing_keys(
    body: DeviceSigningUploadBody, requester: RequesterDep, keys: KeysDep
) -> Response:
    """POST /keys/device_signing/upload: the caller's cross-signing keys (UIA once set up)."""
    await keys.upload_cross_signing(requester, body)
    return empty_response()


@router.post("/keys/signatures/upload")
async def upload_signatures(
    body: Annotated[JsonDict, Body()], requester: RequesterDep, keys: KeysDep
) -> Response:
    return json_response(await keys.upload_signatures(requester, body))
