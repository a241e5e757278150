"""Base error type: every error a client can cause is a CandorError with a stable code.

The HTTP layer turns these into `{"errcode", "error", **extra}` once, in `app.py`, so
services never build responses and bad input never becomes a 500.
"""

from collections.abc import Mapping


class CandorError(Exception):
    """An error a client caused (or may see), carrying its wire representation."""

    status: int = 400
    errcode: str = "M_UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errcode: str | None = None,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if errcode is not None:
            self.errcode = errcode
        self.extra: Mapping[str, object] = extra or {}
        self.headers: Mapping[str, str] = headers or {}

    def to_json(self) -> dict[str, object]:
        return {"errcode": self.errcode, "error": self.message, **self.extra}
