"""Media helpers for tests: real images made with Pillow, and upload/download calls."""

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from candor.app import create_app
from candor.config import MediaSettings, Settings
from candor.core.clock import Clock
from tests.helpers.matrix import MatrixTestClient

MEDIA = "/_matrix/media"
CLIENT_MEDIA = "/_matrix/client/v1/media"


def png(width: int, height: int, color: tuple[int, ...] = (200, 30, 30)) -> bytes:
    """A real PNG: a solid colour with a darker left half, so crops are visible."""
    mode = "RGBA" if len(color) == 4 else "RGB"
    image = Image.new(mode, (width, height), color)
    image.paste((0, 0, 0) if mode == "RGB" else (0, 0, 0, 255), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int, height: int, *, exif: bytes | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    buffer = io.BytesIO()
    if exif is None:
        image.save(buffer, format="JPEG", quality=90)
    else:
        image.save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def mxc_parts(mxc: str) -> tuple[str, str]:
    assert mxc.startswith("mxc://"), mxc
    server, _, media_id = mxc.removeprefix("mxc://").partition("/")
    return server, media_id


async def upload(
    client: MatrixTestClient,
    data: bytes,
    content_type: str | None = "application/octet-stream",
    filename: str | None = None,
) -> str:
    r = await upload_raw(client, data, content_type, filename)
    assert r.status_code == 200, r.text
    uri: str = r.json()["content_uri"]
    return uri


async def upload_raw(
    client: MatrixTestClient,
    data: bytes,
    content_type: str | None = "application/octet-stream",
    filename: str | None = None,
) -> httpx.Response:
    headers = dict(client.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    params = {"filename": filename} if filename is not None else {}
    return await client.http.post(
        f"{MEDIA}/v3/upload", content=data, headers=headers, params=params
    )


async def download(
    client: MatrixTestClient | httpx.AsyncClient,
    mxc: str,
    file_name: str | None = None,
    **params: Any,
) -> httpx.Response:
    server, media_id = mxc_parts(mxc)
    path = f"{CLIENT_MEDIA}/download/{server}/{media_id}"
    if file_name is not None:
        path += f"/{file_name}"
    if isinstance(client, MatrixTestClient):
        return await client.http.get(path, headers=client.headers, params=params)
    return await client.get(path, params=params)


async def thumbnail(client: MatrixTestClient, mxc: str, **params: Any) -> httpx.Response:
    server, media_id = mxc_parts(mxc)
    return await client.http.get(
        f"{CLIENT_MEDIA}/thumbnail/{server}/{media_id}", headers=client.headers, params=params
    )


@asynccontextmanager
async def media_client(
    settings: Settings, clock: Clock | None = None, **media: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Like the `http` fixture, on an app whose `media` settings have `media` changed."""
    changed = settings.model_copy(
        update={"media": MediaSettings.model_validate(settings.media.model_dump() | media)}
    )
    app = create_app(changed, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as client:
            yield client


def stored_files(settings: Settings) -> list[Path]:
    """Every file in the content-addressed store (not the temporary directory)."""
    files = settings.data_dir / "media" / "files"
    return sorted(p for p in files.rglob("*") if p.is_file()) if files.is_dir() else []


def temporary_files(settings: Settings) -> list[Path]:
    tmp = settings.data_dir / "media" / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []
