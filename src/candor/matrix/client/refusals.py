"""Operations of the client-server spec that only make sense for parts Candor does not have
(application services, single sign-on), answered with the error the spec names for them.

Why served at all: a client probing these gets the spec's precise answer instead of the
generic `404 M_UNRECOGNIZED`, and docs/api.md ("Operations Candor refuses, and why") lists
each choice. Discovery already tells clients not to ask: `GET /login` offers no
`m.login.sso` flow, and no registration file makes any token an application service's.
"""

from fastapi import APIRouter, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.errors import Codes, Forbidden, MatrixError, NotFound
from candor.matrix.http import CLIENT_PREFIX

router = APIRouter()

_NO_APPSERVICES = "This server has no application services; this token is a user's"


@router.post("/_matrix/client/v1/appservice/{appservice_id}/ping")
async def appservice_ping(appservice_id: str, requester: RequesterDep) -> Response:
    """The spec's 403 for a token that does not belong to the application service named."""
    raise Forbidden(_NO_APPSERVICES)


@router.put(CLIENT_PREFIX + "/directory/list/appservice/{network_id}/{room_id}")
async def appservice_room_directory(
    network_id: str, room_id: str, requester: RequesterDep
) -> Response:
    """Only an application service may publish to its network's directory."""
    raise Forbidden(_NO_APPSERVICES)


@router.get(CLIENT_PREFIX + "/login/sso/redirect")
async def sso_redirect() -> Response:
    """No identity provider is configured, and `GET /login` says so (no `m.login.sso`)."""
    raise MatrixError(404, Codes.UNRECOGNIZED, "Single sign-on is not offered by this server")


@router.get(CLIENT_PREFIX + "/login/sso/redirect/{idp_id}")
async def sso_redirect_idp(idp_id: str) -> Response:
    """The spec's 404 for an identity provider the server does not recognise: it has none."""
    raise NotFound("No identity provider is configured on this server")
