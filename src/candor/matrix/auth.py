"""FastAPI dependencies: the access token on a request → a Requester (or M_MISSING_TOKEN /
M_UNKNOWN_TOKEN), checked by the Authenticator the composition root built."""

from typing import Annotated

from fastapi import Depends, Request

from candor.matrix.accounts.authenticator import Authenticator
from candor.matrix.errors import MissingToken
from candor.matrix.http import provided
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
    return await provided(request, Authenticator).requester(token)


RequesterDep = Annotated[Requester, Depends(get_requester)]
