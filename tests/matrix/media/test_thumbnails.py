"""Thumbnails with Pillow on real images: sizes, methods, formats, and the decoding guards."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from candor.matrix.media.rules import Box
from candor.matrix.media.thumbnails import (
    ImageTooLarge,
    NotAnImage,
    make_thumbnail,
)
from tests.helpers.media import decode, jpeg, png

MAX_PIXELS = 32_000_000


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "source"
    path.write_bytes(data)
    return path


def test_scale_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    source = write(tmp_path, png(1000, 500))
    made = make_thumbnail(source, "image/png", (320, 240), Box(320, 240, "scale"), MAX_PIXELS)

    assert made is not None
    assert made.content_type == "image/png"
    assert (made.width, made.height) == (320, 160)
    assert decode(made.data).size == (320, 160)


def test_crop_fills_the_box_from_the_centre(tmp_path: Path) -> None:
    # Left half black, right half red: the centre crop of a wide image shows both.
    source = write(tmp_path, png(400, 200))
    made = make_thumbnail(source, "image/png", (96, 96), Box(96, 96, "crop"), MAX_PIXELS)

    assert made is not None
    image = decode(made.data).convert("RGB")
    assert image.size == (96, 96)
    assert image.getpixel((5, 48)) == (0, 0, 0)
    red, _, _ = image.getpixel((90, 48))  # type: ignore[misc]
    assert red > 150


def test_jpeg_gives_jpeg_and_drops_metadata(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    source = write(tmp_path, jpeg(1600, 1200, exif=exif.tobytes()))
    made = make_thumbnail(source, "image/jpeg", (640, 480), Box(640, 480, "scale"), MAX_PIXELS)

    assert made is not None
    assert made.content_type == "image/jpeg"
    image = decode(made.data)
    assert image.format == "JPEG"
    assert image.size == (640, 480)
    assert b"SecretCam" not in made.data


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    source = write(tmp_path, jpeg(400, 200, exif=exif.tobytes()))
    made = make_thumbnail(source, "image/jpeg", (320, 240), Box(320, 240, "scale"), MAX_PIXELS)

    assert made is not None
    assert (made.width, made.height) == (120, 240)  # displayed as 200 x 400


def test_transparency_survives_in_png(tmp_path: Path) -> None:
    source = write(tmp_path, png(500, 500, (10, 20, 30, 0)))
    made = make_thumbnail(source, "image/png", (96, 96), Box(96, 96, "crop"), MAX_PIXELS)

    assert made is not None
    image = decode(made.data)
    assert image.mode == "RGBA"
    assert image.getpixel((90, 10))[3] == 0  # type: ignore[index]


def test_gif_and_webp_become_png(tmp_path: Path) -> None:
    for fmt, kind in (("GIF", "image/gif"), ("WEBP", "image/webp")):
        buffer = io.BytesIO()
        Image.new("RGB", (300, 300), (1, 2, 3)).save(buffer, format=fmt)
        source = write(tmp_path, buffer.getvalue())
        made = make_thumbnail(source, kind, (32, 32), Box(32, 32, "crop"), MAX_PIXELS)
        assert made is not None
        assert made.content_type == "image/png"
        assert decode(made.data).size == (32, 32)


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (200, 200), c) for c in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    source = write(tmp_path, buffer.getvalue())
    made = make_thumbnail(source, "image/gif", (96, 96), Box(96, 96, "crop"), MAX_PIXELS)

    assert made is not None
    image = decode(made.data)
    assert not getattr(image, "is_animated", False)
    assert image.convert("RGB").getpixel((48, 48)) == (255, 0, 0)


def test_a_small_static_image_is_its_own_thumbnail(tmp_path: Path) -> None:
    source = write(tmp_path, png(50, 40))
    assert make_thumbnail(source, "image/png", (96, 96), Box(96, 96, "crop"), MAX_PIXELS) is None


def test_a_small_image_is_never_upscaled_when_re_encoded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40)).save(buffer, format="WEBP")
    source = write(tmp_path, buffer.getvalue())
    made = make_thumbnail(source, "image/webp", (800, 600), Box(800, 600, "scale"), MAX_PIXELS)

    assert made is not None
    assert (made.width, made.height) == (50, 40)


@pytest.mark.parametrize(
    "kind", ["application/octet-stream", "image/svg+xml", "text/plain", "image/bmp", "video/mp4"]
)
def test_other_types_are_never_decoded(tmp_path: Path, kind: str) -> None:
    # Even real PNG bytes: the declared type decides, and these are not images Candor reads.
    source = write(tmp_path, png(100, 100))
    with pytest.raises(NotAnImage):
        make_thumbnail(source, kind, (32, 32), Box(32, 32, "crop"), MAX_PIXELS)


def test_a_file_is_read_only_by_its_declared_decoder(tmp_path: Path) -> None:
    source = write(tmp_path, png(100, 100))
    with pytest.raises(NotAnImage):
        make_thumbnail(source, "image/jpeg", (32, 32), Box(32, 32, "crop"), MAX_PIXELS)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", png(300, 300)[:200], b"\x89PNG\r\n\x1a\n" + b"\x00" * 64],
)
def test_garbage_and_truncated_images_are_not_images(tmp_path: Path, data: bytes) -> None:
    source = write(tmp_path, data)
    with pytest.raises(NotAnImage):
        make_thumbnail(source, "image/png", (32, 32), Box(32, 32, "crop"), MAX_PIXELS)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` and whose data is tiny: a bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "side",
    [
        7_000,  # over Candor's bound (32 MP), under Pillow's warning (89 MP)
        10_000,  # over Pillow's warning, under its error (179 MP)
        100_000,  # over Pillow's own error
    ],
)
def test_images_over_the_pixel_bound_are_refused_before_decoding(tmp_path: Path, side: int) -> None:
    source = write(tmp_path, _png_header_only(side, side))
    with pytest.raises(ImageTooLarge):
        make_thumbnail(source, "image/png", (32, 32), Box(32, 32, "crop"), MAX_PIXELS)


def test_the_pixel_bound_is_the_configured_one(tmp_path: Path) -> None:
    source = write(tmp_path, png(200, 200))
    with pytest.raises(ImageTooLarge):
        make_thumbnail(source, "image/png", (32, 32), Box(32, 32, "crop"), 200 * 200 - 1)
    assert make_thumbnail(source, "image/png", (32, 32), Box(32, 32, "crop"), 200 * 200)


def test_a_missing_file_is_not_mistaken_for_a_broken_image(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_thumbnail(tmp_path / "gone", "image/png", (32, 32), Box(32, 32, "crop"), MAX_PIXELS)


def test_truncated_images_stay_refused_after_weasyprint_is_imported(tmp_path: Path) -> None:
    """WeasyPrint turns Pillow's process-wide LOAD_TRUNCATED_IMAGES on when imported (the
    reports do, in the same process); thumbnails must not start accepting half images."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # what `import weasyprint` does
    source = write(tmp_path, png(300, 300)[:200])
    with pytest.raises(NotAnImage):
        make_thumbnail(source, "image/png", (32, 32), Box(32, 32, "crop"), MAX_PIXELS)
