"""Thumbnails with Pillow: decode only what the upload says it is, only if it is small
enough, and encode a new image (so no metadata of the original, EXIF location included,
reaches a thumbnail).

Blocking (decoding is CPU work): the service runs `make_thumbnail` in a worker thread,
a bounded number at a time. Guards, in order: the declared type must be one of
`rules.THUMBNAIL_SOURCES`, and only that type's decoder may read the file (a PNG
declared as JPEG is refused rather than sniffed); the header's width x height must be
within `media.max_thumbnail_pixels` before a single pixel is decoded (Pillow's own
decompression-bomb check stays on above that); JPEGs are decoded at reduced scale when
the thumbnail is much smaller (`draft`). Animated images give their first frame.

Pillow is imported by `make_thumbnail`, not with this module: a server that never makes a
thumbnail never pays for it (~3 MB resident; the first thumbnail pays ~10 ms once, in the
worker thread). tests/test_import_weight.py keeps it so.
"""

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from candor.matrix.media.rules import (
    STATIC_ORIGINALS,
    THUMBNAIL_SOURCES,
    Box,
    crop_region,
    essence,
    scaled_size,
)

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

JPEG_QUALITY = 80

# What Pillow raises on hostile or broken files: its own `UnidentifiedImageError` is an
# OSError, truncated data raises OSError or SyntaxError, and some decoders let struct,
# index and value errors out. Each means "this is not an image Candor can read".
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError)


class NotAnImage(Exception):
    """The content cannot be thumbnailed (not a supported image, or unreadable)."""


class ImageTooLarge(Exception):
    """The image has more pixels than Candor decodes."""


@dataclass(frozen=True, slots=True)
class Thumbnail:
    data: bytes
    content_type: str
    width: int
    height: int


def make_thumbnail(
    path: Path,
    content_type: str,
    requested: tuple[int, int],
    box: Box,
    max_pixels: int,
) -> Thumbnail | None:
    """A thumbnail of the image at `path` for `box`; None when the original itself is the
    answer (a static JPEG or PNG no larger than `requested`: the spec says to return
    the original content then). Raises NotAnImage or ImageTooLarge."""
    from PIL import Image, ImageFile  # noqa: PLC0415 - lazy: see the module's docstring

    # Pillow's switch for filling in truncated images is process-wide, and WeasyPrint
    # (reports' PDFs, which embed only images Candor made) turns it on when imported. An
    # upload is untrusted: a truncated one is not an image, never a half-grey thumbnail.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    kind = essence(content_type)
    decoder = THUMBNAIL_SOURCES.get(kind)
    if decoder is None:
        raise NotAnImage
    try:
        with Image.open(path, formats=[decoder]) as image:
            width, height = image.size
            if width < 1 or height < 1:
                raise NotAnImage
            if width * height > max_pixels:
                raise ImageTooLarge
            animated = bool(getattr(image, "is_animated", False))
            if (
                kind in STATIC_ORIGINALS
                and not animated
                and width <= requested[0]
                and height <= requested[1]
            ):
                return None
            return _render(image, box, jpeg=decoder == "JPEG")
    except FileNotFoundError:
        raise  # the file went away (a purge): not the image's fault
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning is raised only where warnings are errors (the test suite).
        raise ImageTooLarge from None
    except _DECODE_ERRORS:
        raise NotAnImage from None


def _render(image: "PILImage", box: Box, *, jpeg: bool) -> Thumbnail:
    from PIL import Image, ImageOps  # noqa: PLC0415 - lazy: see the module's docstring

    if jpeg:
        # Decode at 1/2, 1/4 or 1/8 scale when that is still at least the box.
        image.draft("RGB", (box.width, box.height))
    image.seek(0)
    image.load()
    frame = ImageOps.exif_transpose(image) or image
    frame = frame.convert(_working_mode(frame, jpeg=jpeg))
    width, height = frame.size
    if box.method == "crop":
        region, out_w, out_h = crop_region(width, height, box)
        out = frame.resize((out_w, out_h), Image.Resampling.LANCZOS, box=region)
    else:
        out_w, out_h = scaled_size(width, height, box)
        out = frame.resize((out_w, out_h), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if jpeg:
        out.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        return Thumbnail(buffer.getvalue(), "image/jpeg", out_w, out_h)
    out.save(buffer, format="PNG", optimize=True)
    return Thumbnail(buffer.getvalue(), "image/png", out_w, out_h)


def _working_mode(image: "PILImage", *, jpeg: bool) -> str:
    """RGB for JPEG output (or L for greyscale); PNG keeps transparency when there is any."""
    if jpeg:
        return "L" if image.mode == "L" else "RGB"
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image.mode
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if has_alpha else "RGB"
