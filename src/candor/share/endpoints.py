"""`POST /partner/v1/shares` (bearer token with `share`): an app proposes, the person sends.

The app never posts into a conversation: it gets a `confirm_url` on the launcher page,
where its person picks the conversations and sends (or does nothing).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from candor.matrix.http import Provided, json_response
from candor.partners.oauth.bearer import PartnerToken
from candor.partners.oauth.endpoints import require_scope
from candor.share.schemas import ShareRequestBody, ShareRequestResponse
from candor.share.service import ShareService

router = APIRouter(prefix="/partner/v1", tags=["share"])

ShareToken = Annotated[PartnerToken, Depends(require_scope("share"))]


ShareDep = Annotated[ShareService, Depends(Provided(ShareService))]


@router.post("/shares", status_code=201, responses={201: {"model": ShareRequestResponse}})
async def create_share_request(
    body: ShareRequestBody, token: ShareToken, share: ShareDep
) -> Response:
    """Create a share request for the token's person; 400 CANDOR_INVALID_PARAM when a
    field fails the launcher's checks (a URL off the app's domains, a bad label)."""
    app, draft = await share.draft(
        token.client_id,
        url=body.url,
        title=body.title,
        description=body.description,
        image=body.image,
        interface=body.interface,
        surface=body.surface,
        variant=body.variant,
    )
    request_id = await share.create_request(token.user_id, app, draft)
    return json_response(
        {"share_request_id": request_id, "confirm_url": share.confirm_url(request_id)}, 201
    )
