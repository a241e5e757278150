"""GET /_matrix/client/v1/media/thumbnail on both engines: real PNG and JPEG thumbnails,
made once and kept, never for anything but images."""

import io

import pytest
from PIL import Image

from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import (
    decode,
    download,
    jpeg,
    media_client,
    png,
    stored_files,
    temporary_files,
    thumbnail,
    upload,
)


async def test_a_png_gets_a_cropped_png_thumbnail(alice: MatrixTestClient) -> None:
    mxc = await upload(alice, png(800, 400), "image/png", "wide.png")
    r = await thumbnail(alice, mxc, width=96, height=96, method="crop")

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == 'inline; filename="thumbnail.png"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("sandbox;")
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert decode(r.content).size == (96, 96)


async def test_a_jpeg_gets_a_scaled_jpeg_thumbnail(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    mxc = await upload(alice, jpeg(2000, 1000), "image/jpeg")
    r = await thumbnail(bob, mxc, width=320, height=240, method="scale")

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    image = decode(r.content)
    assert image.format == "JPEG"
    assert image.size == (320, 160)


async def test_the_method_defaults_to_scale_and_sizes_snap_up(alice: MatrixTestClient) -> None:
    mxc = await upload(alice, png(1600, 1200), "image/png")
    r = await thumbnail(alice, mxc, width=500, height=300)
    assert r.status_code == 200
    assert decode(r.content).size == (640, 480)  # the 640x480 box covers 500x300


async def test_a_thumbnail_is_made_once(settings: Settings, alice: MatrixTestClient) -> None:
    mxc = await upload(alice, png(500, 500), "image/png")
    first = await thumbnail(alice, mxc, width=32, height=32, method="crop")
    files_after_first = stored_files(settings)
    second = await thumbnail(alice, mxc, width=30, height=30, method="crop")  # same box

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert len(files_after_first) == 2  # the original and one thumbnail
    assert stored_files(settings) == files_after_first
    assert temporary_files(settings) == []


async def test_an_image_smaller_than_asked_is_served_as_itself(alice: MatrixTestClient) -> None:
    data = png(40, 30)
    mxc = await upload(alice, data, "image/png")
    r = await thumbnail(alice, mxc, width=96, height=96, method="crop")
    assert r.status_code == 200
    assert r.content == data


@pytest.mark.parametrize(
    "kind",
    ["application/octet-stream", "text/plain", "image/svg+xml", "video/mp4", None],
)
async def test_no_thumbnail_for_anything_but_images(
    settings: Settings, alice: MatrixTestClient, kind: str | None
) -> None:
    """An encrypted attachment is opaque ciphertext, uploaded as application/octet-stream:
    even when its bytes happen to be a valid PNG, nothing decodes it."""
    mxc = await upload(alice, png(300, 300), kind)
    r = await thumbnail(alice, mxc, width=32, height=32, method="crop")

    assert r.status_code == 400
    assert r.json() == {
        "errcode": "M_UNKNOWN",
        "error": "Cannot generate thumbnails for the requested content",
    }
    assert len(stored_files(settings)) == 1  # only the upload


async def test_a_broken_image_is_a_client_error(alice: MatrixTestClient) -> None:
    mxc = await upload(alice, png(300, 300)[:150], "image/png")
    r = await thumbnail(alice, mxc, width=32, height=32)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_UNKNOWN"
    # The file itself is still served as it was uploaded.
    assert (await download(alice, mxc)).status_code == 200


async def test_an_image_over_the_pixel_bound_is_too_large(settings: Settings) -> None:
    async with media_client(settings, max_thumbnail_pixels=10_000) as http:
        alice = await MatrixTestClient.register(http, "alice")
        mxc = await upload(alice, png(200, 200), "image/png")
        r = await thumbnail(alice, mxc, width=32, height=32)
        assert r.status_code == 413
        assert r.json()["errcode"] == "M_TOO_LARGE"


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"width": 0, "height": 32}, "M_INVALID_PARAM"),
        ({"width": 32, "height": -1}, "M_INVALID_PARAM"),
        ({"width": "wide", "height": 32}, "M_INVALID_PARAM"),
        ({"width": 32, "height": 32, "method": "zoom"}, "M_INVALID_PARAM"),
        ({"width": 32, "height": 32, "animated": "maybe"}, "M_INVALID_PARAM"),
        ({"width": 32, "height": 32, "timeout_ms": "soon"}, "M_INVALID_PARAM"),
        ({"height": 32}, "M_MISSING_PARAM"),
        ({"width": 32}, "M_MISSING_PARAM"),
    ],
)
async def test_bad_parameters_are_400(
    alice: MatrixTestClient, params: dict[str, object], errcode: str
) -> None:
    mxc = await upload(alice, png(100, 100), "image/png")
    r = await thumbnail(alice, mxc, **params)
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] == errcode


async def test_huge_dimensions_are_answered_not_refused(alice: MatrixTestClient) -> None:
    data = png(1000, 1000)
    mxc = await upload(alice, data, "image/png")
    r = await thumbnail(alice, mxc, width=10**30, height=10**30, method="scale", animated="true")
    assert r.status_code == 200
    assert r.content == data  # smaller than asked: the original

    buffer = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(buffer, format="GIF")
    mxc = await upload(alice, buffer.getvalue(), "image/gif")
    r = await thumbnail(alice, mxc, width=10**30, height=10**30, method="scale")
    assert r.status_code == 200
    assert decode(r.content).size == (600, 600)  # the largest box, 800x600, aspect kept
