"""Key backup endpoints: /room_keys/version and /room_keys/keys, for the requester's own backups.

https://spec.matrix.org/v1.11/client-server-api/#server-side-key-backups
Room ids in paths are parsed here (a malformed one is `400 M_INVALID_PARAM`); the
version id is the service's to judge, since a malformed one is simply not found. Megolm
session ids are unpadded standard base64 and may contain `/`, which clients send as `%2F`
and the router sees decoded, hence the `:path` converter on `session_id`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import (
    CLIENT_PREFIX,
    Provided,
    empty_response,
    json_response,
    room_id_param,
)
from candor.matrix.room_keys.schemas import (
    MAX_SESSION_ID_LENGTH,
    NO_NUL,
    KeyBackupData,
    RoomKeyBackupBody,
    RoomKeysBody,
    VersionCreateBody,
    VersionUpdateBody,
)
from candor.matrix.room_keys.service import BackupState, RoomKeysService, VersionInfo

router = APIRouter(prefix=CLIENT_PREFIX)


RoomKeysDep = Annotated[RoomKeysService, Depends(Provided(RoomKeysService))]
VersionQuery = Annotated[str, Query()]
SessionIdPath = Annotated[str, Path(max_length=MAX_SESSION_ID_LENGTH, pattern=NO_NUL)]


def _version_response(info: VersionInfo) -> Response:
    return json_response(
        {
            "algorithm": info.algorithm,
            "auth_data": info.auth_data,
            "count": info.count,
            "etag": info.etag,
            "version": info.version,
        }
    )


def _state_response(state: BackupState) -> Response:
    return json_response({"etag": state.etag, "count": state.count})


# --- versions ----------------------------------------------------------------------------


@router.post("/room_keys/version")
async def create_version(
    body: VersionCreateBody, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    """POST /room_keys/version: the new version becomes the current one."""
    version = await room_keys.create_version(requester, body.algorithm, body.auth_data)
    return json_response({"version": version})


@router.get("/room_keys/version")
async def get_current_version(requester: RequesterDep, room_keys: RoomKeysDep) -> Response:
    return _version_response(await room_keys.get_version(requester, None))


@router.get("/room_keys/version/{version}")
async def get_version(version: str, requester: RequesterDep, room_keys: RoomKeysDep) -> Response:
    return _version_response(await room_keys.get_version(requester, version))


@router.put("/room_keys/version/{version}")
async def update_version(
    version: str, body: VersionUpdateBody, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    await room_keys.update_version(
        requester, version, body.algorithm, body.auth_data, body_version=body.version
    )
    return empty_response()


@router.delete("/room_keys/version/{version}")
async def delete_version(version: str, requester: RequesterDep, room_keys: RoomKeysDep) -> Response:
    await room_keys.delete_version(requester, version)
    return empty_response()


# --- keys --------------------------------------------------------------------------------


@router.put("/room_keys/keys")
async def put_keys(
    body: RoomKeysBody, version: VersionQuery, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    rooms = {room_id: room.sessions for room_id, room in body.rooms.items()}
    return _state_response(await room_keys.upload_keys(requester, version, rooms))


@router.get("/room_keys/keys")
async def get_keys(
    version: VersionQuery, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    return json_response(await room_keys.get_keys(requester, version))


@router.delete("/room_keys/keys")
async def delete_keys(
    version: VersionQuery, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    return _state_response(await room_keys.delete_keys(requester, version))


@router.put("/room_keys/keys/{room_id}")
async def put_room_keys(
    room_id: str,
    body: RoomKeyBackupBody,
    version: VersionQuery,
    requester: RequesterDep,
    room_keys: RoomKeysDep,
) -> Response:
    rooms = {room_id_param(room_id): body.sessions}
    return _state_response(await room_keys.upload_keys(requester, version, rooms))


@router.get("/room_keys/keys/{room_id}")
async def get_room_keys(
    room_id: str, version: VersionQuery, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    return json_response(await room_keys.get_room_keys(requester, version, room_id_param(room_id)))


@router.delete("/room_keys/keys/{room_id}")
async def delete_room_keys(
    room_id: str, version: VersionQuery, requester: RequesterDep, room_keys: RoomKeysDep
) -> Response:
    state = await room_keys.delete_keys(requester, version, room_id=room_id_param(room_id))
    return _state_response(state)


@router.put("/room_keys/keys/{room_id}/{session_id:path}")
async def put_session_key(
    room_id: str,
    session_id: SessionIdPath,
    body: KeyBackupData,
    version: VersionQuery,
    requester: RequesterDep,
    room_keys: RoomKeysDep,
) -> Response:
    rooms = {room_id_param(room_id): {session_id: body}}
    return _state_response(await room_keys.upload_keys(requester, version, rooms))


@router.get("/room_keys/keys/{room_id}/{session_id:path}")
async def get_session_key(
    room_id: str,
    session_id: SessionIdPath,
    version: VersionQuery,
    requester: RequesterDep,
    room_keys: RoomKeysDep,
) -> Response:
    return json_response(
        await room_keys.get_session_key(requester, version, room_id_param(room_id), session_id)
    )


@router.delete("/room_keys/keys/{room_id}/{session_id:path}")
async def delete_session_key(
    room_id: str,
    session_id: SessionIdPath,
    version: VersionQuery,
    requester: RequesterDep,
    room_keys: RoomKeysDep,
) -> Response:
    state = await room_keys.delete_keys(
        requester, version, room_id=room_id_param(room_id), session_id=session_id
    )
    return _state_response(state)
