"""Matrix error codes and the exceptions services raise for them.

Status codes follow https://spec.matrix.org/v1.11/client-server-api/#standard-error-response.
"""

from enum import StrEnum

from candor.core.errors import CandorError


class Codes(StrEnum):
    UNKNOWN = "M_UNKNOWN"
    NOT_JSON = "M_NOT_JSON"
    BAD_JSON = "M_BAD_JSON"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    FORBIDDEN = "M_FORBIDDEN"
    NOT_FOUND = "M_NOT_FOUND"
    USER_IN_USE = "M_USER_IN_USE"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    THREEPID_DENIED = "M_THREEPID_DENIED"
    TOO_LARGE = "M_TOO_LARGE"
    MISSING_PARAM = "M_MISSING_PARAM"
    INVALID_PARAM = "M_INVALID_PARAM"
    ROOM_IN_USE = "M_ROOM_IN_USE"
    WEAK_PASSWORD = "M_WEAK_PASSWORD"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    BAD_STATE = "M_BAD_STATE"
    INVALID_SIGNATURE = "M_INVALID_SIGNATURE"
    WRONG_ROOM_KEYS_VERSION = "M_WRONG_ROOM_KEYS_VERSION"
    CANNOT_OVERWRITE_MEDIA = "M_CANNOT_OVERWRITE_MEDIA"
    NOT_YET_UPLOADED = "M_NOT_YET_UPLOADED"
    PROFILE_TOO_LARGE = "M_PROFILE_TOO_LARGE"
    KEY_TOO_LARGE = "M_KEY_TOO_LARGE"


class MatrixError(CandorError):
    def __init__(self, status: int, errcode: Codes, message: str, **extra: object) -> None:
        super().__init__(message, status=status, errcode=errcode.value, extra=extra)


class BadJson(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(400, Codes.BAD_JSON, message)


class InvalidParam(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(400, Codes.INVALID_PARAM, message)


class MissingParam(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(400, Codes.MISSING_PARAM, message)


class Forbidden(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(403, Codes.FORBIDDEN, message)


class ThreepidDenied(MatrixError):
    """Candor accepts no third-party identifiers (e-mail addresses, phone numbers)."""

    def __init__(self) -> None:
        super().__init__(
            403, Codes.THREEPID_DENIED, "This server does not use third-party identifiers"
        )


class NotFound(MatrixError):
    def __init__(self, message: str) -> None:
        super().__init__(404, Codes.NOT_FOUND, message)


class UnknownToken(MatrixError):
    def __init__(self, message: str = "Unknown access token", *, soft_logout: bool = False) -> None:
        super().__init__(401, Codes.UNKNOWN_TOKEN, message, soft_logout=soft_logout)


class MissingToken(MatrixError):
    def __init__(self) -> None:
        super().__init__(401, Codes.MISSING_TOKEN, "Missing access token")


class LimitExceeded(MatrixError):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(
            429, Codes.LIMIT_EXCEEDED, "Too many requests", retry_after_ms=retry_after_ms
        )
        self.retry_after_ms = retry_after_ms
        self.headers = {"Retry-After": str(max(1, (retry_after_ms + 999) // 1000))}
