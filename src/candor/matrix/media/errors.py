"""The media repository's own errors (the spec's content-repository codes and statuses)."""

from candor.matrix.errors import Codes, MatrixError


class TooLarge(MatrixError):
    """413: an upload over `media.max_upload_bytes`, or an image too big to thumbnail."""

    def __init__(self, message: str) -> None:
        super().__init__(413, Codes.TOO_LARGE, message)


class CannotOverwriteMedia(MatrixError):
    """409: PUT /upload/{serverName}/{mediaId} to an id that already has its content."""

    def __init__(self) -> None:
        super().__init__(409, Codes.CANNOT_OVERWRITE_MEDIA, "Media already uploaded")


class NotYetUploaded(MatrixError):
    """504: a created id whose content did not arrive within the download's timeout."""

    def __init__(self) -> None:
        super().__init__(504, Codes.NOT_YET_UPLOADED, "Content has not yet been uploaded")


class CannotThumbnail(MatrixError):
    """400 M_UNKNOWN, the spec's answer when the server cannot thumbnail the content."""

    def __init__(self) -> None:
        super().__init__(400, Codes.UNKNOWN, "Cannot generate thumbnails for the requested content")


class UploadInterrupted(MatrixError):
    """The client went away before its upload was complete; nothing was stored."""

    def __init__(self) -> None:
        super().__init__(400, Codes.UNKNOWN, "The upload was interrupted")


class PreviewsDisabled(MatrixError):
    """URL previews are off (the default): the endpoint answers as if it did not exist."""

    def __init__(self) -> None:
        super().__init__(404, Codes.UNRECOGNIZED, "URL previews are disabled on this server")
