"""The media repository's pure decisions: ids, types, names, headers and thumbnail sizes."""

import pytest

from candor.config import DEFAULT_THUMBNAIL_SIZES
from candor.matrix.media.rules import (
    DEFAULT_WAIT_MS,
    MAX_WAIT_MS,
    SAFE_INLINE_TYPES,
    Box,
    content_disposition,
    crop_region,
    download_headers,
    essence,
    is_safe_inline,
    is_upload_path,
    normalise_content_type,
    scaled_size,
    select_box,
    valid_filename,
    valid_media_id,
    wait_ms,
)

BOXES = tuple(Box(s.width, s.height, s.method) for s in DEFAULT_THUMBNAIL_SIZES)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/_matrix/media/v3/upload", True),
        ("PUT", "/_matrix/media/v3/upload/test.local/abc", True),
        ("GET", "/_matrix/media/v3/upload", False),
        ("POST", "/_matrix/media/v3/uploadx", False),
        ("POST", "/_matrix/media/v1/create", False),
        ("POST", "/_matrix/client/v3/upload", False),
        ("PUT", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/1", False),
    ],
)
def test_only_uploads_are_raw_bodies(method: str, path: str, expected: bool) -> None:
    assert is_upload_path(method, path) is expected


@pytest.mark.parametrize("media_id", ["abc", "A-b_9", "x" * 255])
def test_url_safe_base64_media_ids_are_valid(media_id: str) -> None:
    assert valid_media_id(media_id)


@pytest.mark.parametrize(
    "media_id",
    ["", "..", "../etc/passwd", "a/b", "a.b", "a%2Fb", "a b", "ä", "a\x00", "x" * 256],
)
def test_media_ids_that_could_name_a_path_are_invalid(media_id: str) -> None:
    assert not valid_media_id(media_id)


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("image/PNG", "image/png"),
        ("Text/Plain; charset=utf-8", "text/plain; charset=utf-8"),
        ('text/plain;charset="utf-8"', 'text/plain;charset="utf-8"'),
        ("  image/jpeg  ", "image/jpeg"),
        ("image", "application/octet-stream"),
        ("image/png\r\nX-Evil: 1", "application/octet-stream"),
        ("image/png; x", "application/octet-stream"),
        ("a/" + "b" * 300, "application/octet-stream"),
        ("ima ge/png", "application/octet-stream"),
    ],
)
def test_content_types_are_kept_when_well_formed(header: str | None, stored: str) -> None:
    assert normalise_content_type(header) == stored


def test_essence_drops_parameters() -> None:
    assert essence("Text/Plain; charset=utf-8") == "text/plain"


@pytest.mark.parametrize("kind", sorted(SAFE_INLINE_TYPES))
def test_the_specs_types_are_inline(kind: str) -> None:
    assert is_safe_inline(kind)
    assert content_disposition(kind, None) == "inline"


@pytest.mark.parametrize(
    "kind",
    [
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "application/javascript",
        "text/javascript",
        "application/pdf",
        "application/octet-stream",
        "text/xml",
    ],
)
def test_scriptable_types_are_attachments(kind: str) -> None:
    assert not is_safe_inline(kind)
    assert content_disposition(kind, "x.html") == 'attachment; filename="x.html"'


def test_file_names_are_quoted_or_percent_encoded() -> None:
    assert content_disposition("image/png", "cat.png") == 'inline; filename="cat.png"'
    assert content_disposition("image/png", 'a"b\\c.png') == 'inline; filename="a\\"b\\\\c.png"'
    assert (
        content_disposition("image/png", "chat noir é.png")
        == "inline; filename*=utf-8''chat%20noir%20%C3%A9.png"
    )
    assert content_disposition("image/png", "a;b=c.png") == 'inline; filename="a;b=c.png"'


@pytest.mark.parametrize("name", ["a.png", "x" * 255, "é", "with space.txt"])
def test_ordinary_file_names_are_valid(name: str) -> None:
    assert valid_filename(name)


@pytest.mark.parametrize("name", ["", "x" * 256, "a\nb", "a\x7fb", "a\x00b", "\r"])
def test_long_or_control_file_names_are_invalid(name: str) -> None:
    assert not valid_filename(name)


def test_download_headers_sandbox_the_file() -> None:
    headers = download_headers("text/html", "page.html", "ab" * 32)
    assert headers["content-disposition"] == 'attachment; filename="page.html"'
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("sandbox; default-src 'none';")
    assert "script-src 'none'" in headers["content-security-policy"]
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert headers["cache-control"].startswith("private")
    assert headers["etag"] == f'"{"ab" * 32}"'


@pytest.mark.parametrize(
    ("given", "waited"),
    [(None, DEFAULT_WAIT_MS), (0, 0), (-5, 0), (1500, 1500), (10**12, MAX_WAIT_MS)],
)
def test_waits_are_bounded(given: int | None, waited: int) -> None:
    assert wait_ms(given) == waited


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ((32, 32, "crop"), Box(32, 32, "crop")),
        ((1, 1, "crop"), Box(32, 32, "crop")),
        ((33, 20, "crop"), Box(96, 96, "crop")),
        ((96, 96, "crop"), Box(96, 96, "crop")),
        # No crop box covers it: the smallest box of any method that does.
        ((200, 100, "crop"), Box(320, 240, "scale")),
        ((100, 100, "scale"), Box(320, 240, "scale")),
        ((320, 241, "scale"), Box(640, 480, "scale")),
        ((800, 600, "scale"), Box(800, 600, "scale")),
        # Bigger than every box: the largest of the method.
        ((4000, 4000, "scale"), Box(800, 600, "scale")),
        ((4000, 4000, "crop"), Box(96, 96, "crop")),
    ],
)
def test_requests_snap_to_a_configured_box(request_: tuple[int, int, str], expected: Box) -> None:
    width, height, method = request_
    assert select_box(width, height, method, BOXES) == expected  # type: ignore[arg-type]


def test_a_method_without_boxes_uses_the_others() -> None:
    only_scale = (Box(100, 100, "scale"), Box(400, 300, "scale"))
    assert select_box(50, 50, "crop", only_scale) == Box(100, 100, "scale")
    assert select_box(999, 999, "crop", only_scale) == Box(400, 300, "scale")


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        (
            (
                1000,
                500,
            ),
            Box(320, 240, "scale"),
            (320, 160),
        ),
        ((500, 1000), Box(320, 240, "scale"), (120, 240)),
        ((100, 50), Box(320, 240, "scale"), (100, 50)),  # never upscaled
        ((321, 1), Box(320, 240, "scale"), (320, 1)),
    ],
)
def test_scale_fits_the_box_and_keeps_the_aspect(
    size: tuple[int, int], box: Box, expected: tuple[int, int]
) -> None:
    assert scaled_size(*size, box) == expected


@pytest.mark.parametrize(
    ("size", "box", "region", "out"),
    [
        ((400, 200), Box(96, 96, "crop"), (100, 0, 300, 200), (96, 96)),
        ((200, 400), Box(96, 96, "crop"), (0, 100, 200, 300), (96, 96)),
        ((60, 40), Box(96, 96, "crop"), (10, 0, 50, 40), (40, 40)),  # never upscaled
        ((640, 480), Box(320, 240, "crop"), (0, 0, 640, 480), (320, 240)),
    ],
)
def test_crop_takes_the_centre_in_the_boxs_aspect(
    size: tuple[int, int],
    box: Box,
    region: tuple[int, int, int, int],
    out: tuple[int, int],
) -> None:
    assert crop_region(*size, box) == (region, *out)
