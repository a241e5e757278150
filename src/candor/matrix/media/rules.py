"""The media repository's pure decisions: which ids, names and types are acceptable, how a
download is labelled, and which thumbnail answers a request.

https://spec.matrix.org/v1.11/client-server-api/#content-repository
No I/O here; everything is tested exhaustively in tests/matrix/media/test_rules.py.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote

ThumbnailMethod = Literal["crop", "scale"]

MEDIA_PREFIX: Final = "/_matrix/media"
CLIENT_MEDIA_PREFIX: Final = "/_matrix/client/v1/media"
UPLOAD_PATH: Final = f"{MEDIA_PREFIX}/v3/upload"

DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
MAX_CONTENT_TYPE_CHARS: Final = 255
MAX_FILENAME_CHARS: Final = 255
# The spec's default wait for content that is not uploaded yet, and Candor's upper bound.
DEFAULT_WAIT_MS: Final = 20_000
MAX_WAIT_MS: Final = 20_000

# The spec's "Serving inline content" list: types a browser will only ever render as what
# they claim to be, so `Content-Disposition: inline` cannot run a script.
SAFE_INLINE_TYPES: Final = frozenset(
    {
        "text/css",
        "text/plain",
        "text/csv",
        "application/json",
        "application/ld+json",
        "image/jpeg",
        "image/gif",
        "image/png",
        "image/apng",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/webm",
        "video/ogg",
        "video/quicktime",
        "audio/mp4",
        "audio/webm",
        "audio/aac",
        "audio/mpeg",
        "audio/ogg",
        "audio/wave",
        "audio/wav",
        "audio/x-wav",
        "audio/x-pn-wav",
        "audio/flac",
        "audio/x-flac",
    }
)

# Image types Candor decodes to make thumbnails, and the one Pillow decoder each may use:
# a file is never handed to a decoder its declared type does not name. SVG is not here
# (it is a document that can carry scripts), nor is application/octet-stream, which is
# what encrypted attachments are uploaded as: opaque ciphertext is never decoded.
THUMBNAIL_SOURCES: Final = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/apng": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# Types whose file can stand in for a thumbnail when it is already small enough.
STATIC_ORIGINALS: Final = frozenset({"image/jpeg", "image/png"})

# Synapse's policy (the spec's recommendation plus `media-src 'self'`): even when a
# browser is made to open a file directly, it runs no script and loads nothing else.
MEDIA_CSP: Final = (
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
    "style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"
)
# A file never changes under its media id (a purge removes it); it is nobody else's
# business, so shared caches keep no copy.
CACHE_CONTROL: Final = "private, max-age=86400"

_MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*"'
_CONTENT_TYPE = re.compile(
    rf"^({_TCHARS})/({_TCHARS})((?:[ \t]*;[ \t]*{_TCHARS}=(?:{_TCHARS}|{_QUOTED}))*)[ \t]*$"
)


def is_upload_path(method: str, path: str) -> bool:
    """Whether a request carries a file, not JSON: the body guard lets it through raw and
    bounds it by `media.max_upload_bytes` instead of the JSON limit."""
    return method in ("POST", "PUT") and (path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/"))


def valid_media_id(media_id: str) -> bool:
    """The spec's sanitising rule for the media-id part of an `mxc://` URI: only
    `A-Za-z0-9`, `_` and `-`, so no id can name a path."""
    return bool(_MEDIA_ID.match(media_id))


def mxc_uri(server_name: str, media_id: str) -> str:
    return f"mxc://{server_name}/{media_id}"


def normalise_content_type(header: str | None) -> str:
    """The type to store for an upload: the client's `Content-Type` with the type and
    subtype lower-cased, or `application/octet-stream` when it is missing or malformed
    (the spec's default; a malformed type could not be served back as a header)."""
    if header is None:
        return DEFAULT_CONTENT_TYPE
    value = header.strip()
    match = _CONTENT_TYPE.match(value)
    if match is None or len(value) > MAX_CONTENT_TYPE_CHARS:
        return DEFAULT_CONTENT_TYPE
    kind, subtype, params = match.groups()
    return f"{kind.lower()}/{subtype.lower()}{params}"


def essence(content_type: str) -> str:
    """`type/subtype` without parameters, lower-case (`text/plain; charset=utf-8` →
    `text/plain`)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_safe_inline(content_type: str) -> bool:
    return essence(content_type) in SAFE_INLINE_TYPES


def valid_filename(name: str) -> bool:
    """A file name the server can repeat in `Content-Disposition`: at most 255 characters,
    no control characters."""
    return 0 < len(name) <= MAX_FILENAME_CHARS and not any(
        unicodedata.category(c) == "Cc" for c in name
    )


def content_disposition(content_type: str, filename: str | None) -> str:
    """`inline` for the spec's safe types, else `attachment` (RFC 6266), with the file
    name as the uploader gave it: a quoted string when it is printable ASCII, else
    RFC 5987's `filename*=utf-8''…`."""
    kind = "inline" if is_safe_inline(content_type) else "attachment"
    if filename is None:
        return kind
    if all(0x20 <= ord(c) < 0x7F for c in filename):
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'{kind}; filename="{escaped}"'
    return f"{kind}; filename*=utf-8''{quote(filename, safe='')}"


def download_headers(content_type: str, filename: str | None, sha256: str) -> dict[str, str]:
    """The headers of every file Candor serves (downloads and thumbnails): the type as
    uploaded, `inline` only for the spec's safe types, no sniffing, a sandboxing CSP, and
    readable from another origin (Element Web runs on its own)."""
    return {
        "content-disposition": content_disposition(content_type, filename),
        "x-content-type-options": "nosniff",
        "content-security-policy": MEDIA_CSP,
        "cross-origin-resource-policy": "cross-origin",
        "cache-control": CACHE_CONTROL,
        "etag": f'"{sha256}"',
        "referrer-policy": "no-referrer",
    }


def wait_ms(timeout_ms: int | None) -> int:
    """How long a download waits for content that is not uploaded yet."""
    if timeout_ms is None:
        return DEFAULT_WAIT_MS
    return max(0, min(timeout_ms, MAX_WAIT_MS))


@dataclass(frozen=True, slots=True)
class Box:
    """A configured thumbnail size."""

    width: int
    height: int
    method: ThumbnailMethod

    @property
    def area(self) -> int:
        return self.width * self.height

    def covers(self, width: int, height: int) -> bool:
        return self.width >= width and self.height >= height


def select_box(width: int, height: int, method: ThumbnailMethod, boxes: Sequence[Box]) -> Box:
    """The configured box that answers a request for `width` x `height` by `method`.

    Thumbnails are made only in configured sizes (so a client cannot make the server
    render and store one per pixel), and the spec wants one no smaller than asked: the
    smallest box of the requested method that covers the request, else the smallest box
    of any method that does, else the largest box of the method (else the largest).
    """
    same = [b for b in boxes if b.method == method]
    for pool in (same, boxes):
        covering = [b for b in pool if b.covers(width, height)]
        if covering:
            return min(covering, key=lambda b: (b.area, b.width))
    return max(same or boxes, key=lambda b: (b.area, b.width))


def scaled_size(width: int, height: int, box: Box) -> tuple[int, int]:
    """`scale`: the largest size of the image's aspect ratio that fits the box, never
    larger than the image itself (servers must not upscale)."""
    if width <= box.width and height <= box.height:
        return width, height
    ratio = min(box.width / width, box.height / height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def crop_region(width: int, height: int, box: Box) -> tuple[tuple[int, int, int, int], int, int]:
    """`crop`: the centred region of the box's aspect ratio, and the size to shrink it to
    (the box, or the region itself when it is smaller: no upscaling)."""
    if width * box.height > height * box.width:  # wider than the box: trim the sides
        region_w, region_h = max(1, round(height * box.width / box.height)), height
    else:  # taller: trim top and bottom
        region_w, region_h = width, max(1, round(width * box.height / box.width))
    left = (width - region_w) // 2
    top = (height - region_h) // 2
    region = (left, top, left + region_w, top + region_h)
    if region_w <= box.width and region_h <= box.height:
        return region, region_w, region_h
    return region, box.width, box.height
