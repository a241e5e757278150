"""OAuth 2.0 endpoints (token, revocation, introspection, RFC 8414 metadata), the bearer
dependency every partner API uses (`require_scope`), and `GET /partner/v1/me`.

The OAuth endpoints answer in RFC 6749 §5.2 form (`{"error", "error_description"}`), as
authlib makes them (`server.py`): that is the OAuth wire format, so it is not wrapped in
Candor's `CANDOR_…` shape. The partner API proper (`/partner/v1/…`) uses `CANDOR_…` codes.
The authorization endpoint is a web page: `candor.web.routes.oauth`.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from candor.matrix.http import Provided, json_response
from candor.partners.errors import PartnerError
from candor.partners.oauth.bearer import BearerService, PartnerToken
from candor.partners.oauth.schemas import MeResponse
from candor.partners.oauth.server import OAuthServer
from candor.partners.oauth.service import OAuthService

router = APIRouter(tags=["oauth"])
partner_router = APIRouter(prefix="/partner/v1", tags=["partner"])


OAuthDep = Annotated[OAuthService, Depends(Provided(OAuthService))]


BearerDep = Annotated[BearerService, Depends(Provided(BearerService))]


async def get_server(oauth: OAuthDep) -> OAuthServer:
    """The issuer is the configured public base URL, never the request's Host header: a
    client that sends another Host must not change what the metadata or introspection say."""
    return OAuthServer(oauth, oauth.issuer)


ServerDep = Annotated[OAuthServer, Depends(get_server)]


def bearer_token(request: Request) -> str:
    """The `Authorization: Bearer …` credential, or 401 CANDOR_MISSING_TOKEN."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PartnerError(401, "CANDOR_MISSING_TOKEN", "Missing bearer access token")
    return token.strip()


def require_scope(scope: str) -> Callable[..., Awaitable[PartnerToken]]:
    """A dependency: the request's valid bearer token, which must carry `scope`.

    401 CANDOR_MISSING_TOKEN / CANDOR_UNKNOWN_TOKEN, 403 CANDOR_INSUFFICIENT_SCOPE, and
    429 CANDOR_LIMIT_EXCEEDED past the app's rate limit (one bucket per app, whoever the
    person: a partner cannot multiply its quota by its number of users).
    """

    async def dependency(request: Request, bearer: BearerDep) -> PartnerToken:
        return await bearer.authenticate(bearer_token(request), scope)

    return dependency


@router.post("/oauth/token", include_in_schema=True)
async def token(request: Request, server: ServerDep) -> Response:
    """RFC 6749 §3.2 token endpoint: `authorization_code` (with the PKCE `code_verifier`)
    and `refresh_token` (which rotates: the answer carries a new refresh token)."""
    return (await server.token(request)).to_response()


@router.post("/oauth/revoke")
async def revoke(request: Request, server: ServerDep) -> Response:
    """RFC 7009 revocation. A refresh token ends its whole family; unknown tokens get 200."""
    return (await server.endpoint("revocation", request)).to_response()


@router.post("/oauth/introspect")
async def introspect(request: Request, server: ServerDep) -> Response:
    """RFC 7662 introspection of the calling app's own tokens (others: `active: false`)."""
    return (await server.endpoint("introspection", request)).to_response()


@router.get("/.well-known/oauth-authorization-server")
async def metadata(server: ServerDep) -> Response:
    """RFC 8414 authorization server metadata."""
    return json_response(server.metadata())


@partner_router.get("/me", responses={200: {"model": MeResponse}})
async def me(
    bearer: BearerDep, token: Annotated[PartnerToken, Depends(require_scope("profile"))]
) -> Response:
    """The person the token speaks for (scope `profile`)."""
    found = await bearer.profile(token)
    return json_response(MeResponse.model_validate(found).model_dump())
