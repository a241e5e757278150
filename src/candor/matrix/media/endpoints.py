"""Media endpoints: uploads under /_matrix/media, authenticated downloads under
/_matrix/client/v1/media, and the deprecated unauthenticated /_matrix/media/v3 ones.

https://spec.matrix.org/v1.11/client-server-api/#content-repository
Upload bodies are files, not JSON: the body guard (app/body_limit.py) lets them through
raw, bounded by `media.max_upload_bytes`, and they are streamed to disk, never held in
memory. Files are served by `FileResponse` (ranges included) with the headers of
`rules.download_headers`.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse

from candor.matrix.auth import RequesterDep
from candor.matrix.http import Provided, json_response
from candor.matrix.media.errors import UploadInterrupted
from candor.matrix.media.preview import UrlPreviewService
from candor.matrix.media.rules import CLIENT_MEDIA_PREFIX, MEDIA_PREFIX, download_headers
from candor.matrix.media.schemas import (
    RAW_BODY,
    AllowRedirectQuery,
    AllowRemoteQuery,
    AnimatedQuery,
    ConfigResponse,
    CreateResponse,
    FilenameQuery,
    HeightQuery,
    MethodQuery,
    TimeoutQuery,
    TsQuery,
    UploadResponse,
    UrlQuery,
    WidthQuery,
)
from candor.matrix.media.service import MediaService, ServedFile

router = APIRouter(prefix=MEDIA_PREFIX)
client_router = APIRouter(prefix=CLIENT_MEDIA_PREFIX)

MediaDep = Annotated[MediaService, Depends(Provided(MediaService))]
PreviewDep = Annotated[UrlPreviewService, Depends(Provided(UrlPreviewService))]


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a client that goes away mid-upload is an error
    (the service then keeps nothing)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise UploadInterrupted from None


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


def _file(served: ServedFile) -> Response:
    return FileResponse(
        served.path,
        media_type=served.content_type,
        headers=download_headers(served.content_type, served.filename, served.sha256),
        stat_result=served.stat,
    )


# --- uploads (/_matrix/media) ------------------------------------------------------------


@router.post("/v3/upload", openapi_extra=RAW_BODY)
async def upload(
    request: Request, requester: RequesterDep, media: MediaDep, filename: FilenameQuery = None
) -> Response:
    """POST /_matrix/media/v3/upload: the body is the file, `Content-Type` its type."""
    uri = await media.upload(
        requester,
        _body(request),
        content_type=request.headers.get("content-type"),
        filename=filename,
        content_length=_content_length(request),
    )
    return json_response(UploadResponse(content_uri=uri).model_dump())


@router.post("/v1/create")
async def create(requester: RequesterDep, media: MediaDep) -> Response:
    """POST /_matrix/media/v1/create: an mxc URI to upload to later."""
    created = await media.create(requester)
    return json_response(
        CreateResponse(
            content_uri=created.content_uri, unused_expires_at=created.unused_expires_at
        ).model_dump()
    )


@router.put("/v3/upload/{server_name}/{media_id}", openapi_extra=RAW_BODY)
async def upload_to(
    server_name: str,
    media_id: str,
    request: Request,
    requester: RequesterDep,
    media: MediaDep,
    filename: FilenameQuery = None,
) -> Response:
    """PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: fill an id from /create."""
    await media.upload_to(
        requester,
        server_name,
        media_id,
        _body(request),
        content_type=request.headers.get("content-type"),
        filename=filename,
        content_length=_content_length(request),
    )
    return json_response({})


# --- authenticated media (/_matrix/client/v1/media) --------------------------------------


def _config(media: MediaService) -> Response:
    return json_response(
        ConfigResponse(upload_size=media.max_upload_bytes).model_dump(by_alias=True)
    )


@client_router.get("/config")
async def config(requester: RequesterDep, media: MediaDep) -> Response:
    return _config(media)


@client_router.get("/download/{server_name}/{media_id}")
async def download(
    server_name: str,
    media_id: str,
    requester: RequesterDep,
    media: MediaDep,
    timeout_ms: TimeoutQuery = None,
) -> Response:
    return _file(await media.download(server_name, media_id, timeout_ms))


@client_router.get("/download/{server_name}/{media_id}/{file_name}")
async def download_as(
    server_name: str,
    media_id: str,
    file_name: str,
    requester: RequesterDep,
    media: MediaDep,
    timeout_ms: TimeoutQuery = None,
) -> Response:
    return _file(await media.download(server_name, media_id, timeout_ms, filename=file_name))


@client_router.get("/thumbnail/{server_name}/{media_id}")
async def thumbnail(
    server_name: str,
    media_id: str,
    requester: RequesterDep,
    media: MediaDep,
    width: WidthQuery,
    height: HeightQuery,
    method: MethodQuery = "scale",
    animated: AnimatedQuery = None,
    timeout_ms: TimeoutQuery = None,
) -> Response:
    return _file(
        await media.thumbnail(
            server_name,
            media_id,
            width=width,
            height=height,
            method=method,
            timeout_ms=timeout_ms,
        )
    )


@client_router.get("/preview_url")
async def preview_url(
    requester: RequesterDep, previews: PreviewDep, url: UrlQuery, ts: TsQuery = None
) -> Response:
    return json_response(await previews.preview(requester, url))


# --- deprecated (/_matrix/media/v3) ------------------------------------------------------


@router.get("/v3/config")
async def legacy_config(requester: RequesterDep, media: MediaDep) -> Response:
    return _config(media)


@router.get("/v3/download/{server_name}/{media_id}")
async def legacy_download(
    server_name: str,
    media_id: str,
    media: MediaDep,
    timeout_ms: TimeoutQuery = None,
    allow_remote: AllowRemoteQuery = None,
    allow_redirect: AllowRedirectQuery = None,
) -> Response:
    """Unauthenticated, frozen by default (`media.legacy_unauthenticated_downloads`)."""
    return _file(await media.download_unauthenticated(server_name, media_id, timeout_ms))


@router.get("/v3/download/{server_name}/{media_id}/{file_name}")
async def legacy_download_as(
    server_name: str,
    media_id: str,
    file_name: str,
    media: MediaDep,
    timeout_ms: TimeoutQuery = None,
    allow_remote: AllowRemoteQuery = None,
    allow_redirect: AllowRedirectQuery = None,
) -> Response:
    return _file(
        await media.download_unauthenticated(server_name, media_id, timeout_ms, filename=file_name)
    )


@router.get("/v3/thumbnail/{server_name}/{media_id}")
async def legacy_thumbnail(
    server_name: str,
    media_id: str,
    media: MediaDep,
    width: WidthQuery,
    height: HeightQuery,
    method: MethodQuery = "scale",
    animated: AnimatedQuery = None,
    timeout_ms: TimeoutQuery = None,
    allow_remote: AllowRemoteQuery = None,
    allow_redirect: AllowRedirectQuery = None,
) -> Response:
    return _file(
        await media.thumbnail_unauthenticated(
            server_name,
            media_id,
            width=width,
            height=height,
            method=method,
            timeout_ms=timeout_ms,
        )
    )


@router.get("/v3/preview_url")
async def legacy_preview_url(
    requester: RequesterDep, previews: PreviewDep, url: UrlQuery, ts: TsQuery = None
) -> Response:
    return json_response(await previews.preview(requester, url))
