"""Turns an access token into a Requester (or M_MISSING_TOKEN / M_UNKNOWN_TOKEN)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from candor.core.tokens import hash_token
from candor.matrix.accounts import repository as accounts_repo
from candor.matrix.context import Homeserver
from candor.matrix.errors import MissingToken, UnknownToken

ACCESS_TOKEN_PREFIX = "cdr_at_"


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    device_id: str
    is_admin: bool
    access_token_hash: str

    @property
    def device(self) -> tuple[str, str]:
        return (self.user_id, self.device_id)


async def get_homeserver(request: Request) -> Homeserver:
    """Async on purpose: FastAPI runs plain `def` dependencies in a thread pool."""
    hs: Homeserver = request.app.state.homeserver
    return hs


HomeserverDep = Annotated[Homeserver, Depends(get_homeserver)]


def extract_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return request.query_params.get("access_token") or None


async def get_requester(request: Request, hs: HomeserverDep) -> Requester:
    token = extract_token(request)
    if token is None:
        raise MissingToken
    token_hash = hash_token(token, hs.token_key)
    owner = hs.tokens.get(token_hash)
    if owner is None:
        generation = hs.tokens.generation
        async with hs.db.read() as conn:
            owner = await accounts_repo.get_token_owner(conn, token_hash)
        if owner is None:
            raise UnknownToken
        hs.tokens.put(token_hash, owner, generation)
    return Requester(owner[0], owner[1], owner[2], token_hash)


RequesterDep = Annotated[Requester, Depends(get_requester)]
