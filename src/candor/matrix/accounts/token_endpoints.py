"""Token endpoints beside /login: `POST /refresh`, `POST /login/get_token`, OpenID tokens
(and the userinfo a third party checks them at), and registration-token validity.

https://spec.matrix.org/v1.16/client-server-api/#refreshing-access-tokens
https://spec.matrix.org/v1.16/client-server-api/#openid
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts.refresh import RefreshService
from candor.matrix.accounts.schemas import GetLoginTokenBody, RefreshBody
from candor.matrix.accounts.tokens import TokensService
from candor.matrix.auth import RequesterDep
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response, user_id_param

router = APIRouter(prefix=CLIENT_PREFIX)
v1_router = APIRouter(prefix="/_matrix/client/v1")
federation_router = APIRouter(prefix="/_matrix/federation/v1")

RefreshDep = Annotated[RefreshService, Depends(Provided(RefreshService))]
TokensDep = Annotated[TokensService, Depends(Provided(TokensService))]


@router.post("/refresh")
async def refresh(body: RefreshBody, refresher: RefreshDep) -> Response:
    """POST /refresh: no access token, the refresh token authenticates (`accounts/refresh.py`)."""
    pair = await refresher.refresh(body.refresh_token)
    return json_response(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_in_ms": pair.expires_in_ms,
        }
    )


@v1_router.post("/login/get_token")
async def get_login_token(
    body: GetLoginTokenBody, requester: RequesterDep, tokens: TokensDep
) -> Response:
    """POST /login/get_token: UIA with the password every time, then a single-use token."""
    issued = await tokens.get_login_token(requester, body.auth)
    return json_response({"login_token": issued.token, "expires_in_ms": issued.expires_in_ms})


@router.post("/user/{user_id}/openid/request_token")
async def request_openid_token(
    user_id: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    tokens: TokensDep,
) -> Response:
    """The body is `{}` (the spec): any JSON object is accepted and ignored, anything else
    (an array, no body) is the spec-invalid request it is."""
    issued = await tokens.openid_token(requester, user_id_param(user_id))
    return json_response(
        {
            "access_token": issued.token,
            "token_type": "Bearer",
            "matrix_server_name": tokens.server_name,
            "expires_in": issued.expires_in_ms // 1000,
        }
    )


@federation_router.get("/openid/userinfo")
async def openid_userinfo(
    tokens: TokensDep, access_token: Annotated[str, Query(max_length=255)]
) -> Response:
    """The server-server API's check of an OpenID token: `{"sub": user_id}` or 401
    M_UNKNOWN_TOKEN. The only federation endpoint Candor serves."""
    return json_response({"sub": await tokens.openid_user(access_token)})


@v1_router.get("/register/m.login.registration_token/validity")
async def registration_token_validity(
    request: Request, tokens: TokensDep, token: Annotated[str, Query(max_length=255)]
) -> Response:
    """Candor has no registration tokens: none is valid (403 with registration closed)."""
    valid = await tokens.registration_token_valid(
        token, request.client.host if request.client else None
    )
    return json_response({"valid": valid})
