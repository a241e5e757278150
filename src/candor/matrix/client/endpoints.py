"""Server-wide client endpoints: versions, capabilities, push rules.

`/_matrix/client/versions` is unversioned; the others sit under /v3 with the rest.
"""

from fastapi import APIRouter, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.client.pushrules import default_push_rules
from candor.matrix.constants import ROOM_VERSION, SPEC_VERSIONS, SUPPORTED_ROOM_VERSIONS
from candor.matrix.http import CLIENT_PREFIX, json_response

versions_router = APIRouter()
router = APIRouter(prefix=CLIENT_PREFIX)


@versions_router.get("/_matrix/client/versions")
async def versions() -> Response:
    return json_response({"versions": list(SPEC_VERSIONS), "unstable_features": {}})


@router.get("/capabilities")
async def capabilities(requester: RequesterDep) -> Response:
    return json_response(
        {
            "capabilities": {
                "m.change_password": {"enabled": True},
                "m.room_versions": {
                    "default": ROOM_VERSION,
                    "available": dict.fromkeys(SUPPORTED_ROOM_VERSIONS, "stable"),
                },
                "m.set_displayname": {"enabled": True},
                "m.set_avatar_url": {"enabled": True},
                "m.3pid_changes": {"enabled": False},
            }
        }
    )


@router.get("/pushrules/")
async def push_rules(requester: RequesterDep) -> Response:
    return json_response(default_push_rules(requester.user_id))


@router.get("/pushrules/global/")
async def push_rules_global(requester: RequesterDep) -> Response:
    rules = default_push_rules(requester.user_id)
    return json_response(rules["global"])
