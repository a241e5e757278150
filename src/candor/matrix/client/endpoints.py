"""Server-wide client endpoints: versions, capabilities, the well-known documents, TURN
credentials, and the answers Candor gives to third-party identifiers and protocols (it
keeps and bridges none). Push rules are `matrix/push/`.

`/_matrix/client/versions` is unversioned; the others sit under /v3 with the rest.
"""

from fastapi import APIRouter, Request, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts.schemas import ThreepidRemoveBody
from candor.matrix.accounts.tokens import TokensService
from candor.matrix.auth import RequesterDep
from candor.matrix.client.discovery import Discovery
from candor.matrix.client.voip import TurnService
from candor.matrix.constants import (
    ROOM_VERSION,
    SPEC_VERSIONS,
    SUPPORTED_ROOM_VERSIONS,
    UNSTABLE_FEATURES,
)
from candor.matrix.errors import NotFound, ThreepidDenied
from candor.matrix.http import CLIENT_PREFIX, json_response, provided

versions_router = APIRouter()
router = APIRouter(prefix=CLIENT_PREFIX)


@versions_router.get("/_matrix/client/versions")
async def versions() -> Response:
    return json_response(
        {"versions": list(SPEC_VERSIONS), "unstable_features": dict(UNSTABLE_FEATURES)}
    )


@router.get("/capabilities")
async def capabilities(requester: RequesterDep, request: Request) -> Response:
    tokens = provided(request, TokensService)
    # Administrators may lock and suspend accounts (`matrix/moderation`); the spec says to
    # leave the capability out for everyone else.
    moderation: JsonDict = (
        {"m.account_moderation": {"lock": True, "suspend": True}} if requester.is_admin else {}
    )
    return json_response(
        {
            "capabilities": {
                **moderation,
                "m.change_password": {"enabled": True},
                "m.room_versions": {
                    "default": ROOM_VERSION,
                    "available": dict.fromkeys(SUPPORTED_ROOM_VERSIONS, "stable"),
                },
                "m.set_displayname": {"enabled": True},
                "m.set_avatar_url": {"enabled": True},
                "m.3pid_changes": {"enabled": False},
                "m.get_login_token": {"enabled": tokens.get_login_token_enabled},
                "m.profile_fields": {"enabled": True},
            }
        }
    )


@router.get("/account/3pid")
async def third_party_ids(requester: RequesterDep) -> Response:
    """Candor keeps no e-mail addresses or phone numbers: an account is its Matrix id."""
    return json_response({"threepids": []})


@router.post("/account/3pid/email/requestToken")
@router.post("/account/3pid/msisdn/requestToken")
@router.post("/register/email/requestToken")
@router.post("/register/msisdn/requestToken")
@router.post("/account/password/email/requestToken")
@router.post("/account/password/msisdn/requestToken")
async def refuse_third_party_token() -> Response:
    """No third-party identifiers, so no tokens to validate one (`capabilities` says
    `m.3pid_changes` is off); the spec's code for a server that does not allow them."""
    raise ThreepidDenied


@router.post("/account/3pid/add")
@router.post("/account/3pid/bind")
@router.post("/account/3pid")
async def refuse_third_party_add(requester: RequesterDep) -> Response:
    raise ThreepidDenied


@router.post("/account/3pid/delete")
@router.post("/account/3pid/unbind")
async def remove_third_party_id(body: ThreepidRemoveBody, requester: RequesterDep) -> Response:
    """Nothing to remove, and no identity server was ever told of one: the spec's answer
    for an unknown identity server is `no-support` (a well-formed body is still required)."""
    return json_response({"id_server_unbind_result": "no-support"})


@router.get("/thirdparty/protocols")
async def third_party_protocols(requester: RequesterDep) -> Response:
    """No bridges to other networks: no protocols."""
    return json_response({})


@router.get("/thirdparty/protocol/{protocol}")
@router.get("/thirdparty/location/{protocol}")
@router.get("/thirdparty/user/{protocol}")
@router.get("/thirdparty/location")
@router.get("/thirdparty/user")
async def third_party_lookup(requester: RequesterDep) -> Response:
    """With no protocols every lookup finds nothing: the spec's 404 for each (Element asks
    for a VoIP protocol's users whenever it opens a DM)."""
    raise NotFound("No third-party protocols are bridged here")


@versions_router.get("/.well-known/matrix/client")
async def client_well_known(request: Request) -> Response:
    """No token: a client reads this before anyone has logged in."""
    return json_response(provided(request, Discovery).client_well_known())


@versions_router.get("/.well-known/matrix/support")
async def support_well_known(request: Request) -> Response:
    """No token: whom to ask when the server itself is the problem."""
    return json_response(provided(request, Discovery).support_well_known())


@router.get("/voip/turnServer")
async def turn_server(request: Request, requester: RequesterDep) -> Response:
    return json_response(provided(request, TurnService).credentials(requester.user_id))
