"""People search. https://spec.matrix.org/v1.11/client-server-api/#user-directory"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import CLIENT_PREFIX, Provided, json_response
from candor.matrix.user_directory.schemas import UserSearchBody
from candor.matrix.user_directory.service import UserDirectoryService

router = APIRouter(prefix=CLIENT_PREFIX)

UserDirectoryDep = Annotated[UserDirectoryService, Depends(Provided(UserDirectoryService))]


@router.post("/user_directory/search")
async def search(
    body: UserSearchBody, requester: RequesterDep, directory: UserDirectoryDep
) -> Response:
    """Whom the searcher may find (the searcher, room-mates, members of public rooms)."""
    return json_response(await directory.search(requester, body.search_term, body.limit))
