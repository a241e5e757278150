"""POST /_matrix/client/v3/account/deactivate (user-interactive auth, `erase`).

https://spec.matrix.org/v1.11/client-server-api/#post_matrixclientv3accountdeactivate
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.deactivation.schemas import DeactivateBody
from candor.matrix.deactivation.service import DeactivationService
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response

router = APIRouter(prefix=CLIENT_PREFIX)

DeactivationDep = Annotated[DeactivationService, Depends(Provided(DeactivationService))]


@router.post("/account/deactivate")
async def deactivate(
    body: DeactivateBody, requester: RequesterDep, deactivation: DeactivationDep
) -> Response:
    """Deactivate the caller's account, after its password (UIA m.login.password).

    `id_server_unbind_result` is always "no-support": Candor keeps no third-party
    identifiers, so there is nothing to unbind anywhere.
    """
    await deactivation.deactivate(requester, body.auth, erase=body.erase)
    return json_response({"id_server_unbind_result": "no-support"})
