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
    USER_LOCKED = "M_USER_LOCKED"
    USER_SUSPENDED = "M_USER_SUSPENDED"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"
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


class UserDeactivated(Forbidden):
    """Login to a deactivated account (the spec's 403 M_USER_DEACTIVATED). A `Forbidden`,
    so doors that answer every failure alike (the web login) still catch it."""

    def __init__(self) -> None:
        MatrixError.__init__(self, 403, Codes.USER_DEACTIVATED, "This account has been deactivated")


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


class UserLocked(MatrixError):
    """An administrator locked the account: every request but logging out is refused."""

    def __init__(self) -> None:
        super().__init__(401, Codes.USER_LOCKED, "This account has been locked", soft_logout=True)


class LoginLocked(MatrixError):
    """A correct password for a locked account: no new session, on Matrix or on Candor's
    web pages. `UserLocked`'s code without `soft_logout`: there is no session to keep (as
    Synapse answers a locked login)."""

    def __init__(self) -> None:
        super().__init__(401, Codes.USER_LOCKED, "This account has been locked")


class UserSuspended(MatrixError):
    """An administrator suspended the account: it may read, not act (`moderation/rules.py`)."""

    def __init__(self) -> None:
        super().__init__(403, Codes.USER_SUSPENDED, "This account is suspended")
