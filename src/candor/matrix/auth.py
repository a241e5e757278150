"""FastAPI dependencies: the access token on a request → a Requester (or M_MISSING_TOKEN /
M_UNKNOWN_TOKEN), checked by the Authenticator the composition root built."""

from typing import Annotated

from fastapi import Depends, Request

from candor.matrix.accounts.authenticator import Authenticator
from candor.matrix.errors import MissingToken, UserLocked, UserSuspended
from candor.matrix.http import provided
from candor.matrix.moderation.rules import locked_may, route_key, suspended_may
from candor.matrix.requester import Requester


def extract_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return request.query_params.get("access_token") or None


async def get_requester(request: Request) -> Requester:
    token = extract_token(request)
    if token is None:
        raise MissingToken
    requester = await provided(request, Authenticator).requester(token)
    if requester.locked or requester.suspended:
        _check_restrictions(request, requester)
    return requester


def _check_restrictions(request: Request, requester: Requester) -> None:
    """A locked account may only log out; a suspended one may not act (`moderation/rules`)."""
    route = request.scope.get("route")
    key = route_key(request.method, getattr(route, "path", request.url.path))
    if requester.locked and not locked_may(key):
        raise UserLocked
    if requester.suspended and not suspended_may(
        key, [str(v) for v in request.path_params.values()]
    ):
        raise UserSuspended


RequesterDep = Annotated[Requester, Depends(get_requester)]
