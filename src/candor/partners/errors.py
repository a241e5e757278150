"""The partner platform's errors, in the `CANDOR_…` shape every Candor API uses."""

from candor.core.errors import CandorError


class PartnerError(CandorError):
    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


def invalid(message: str) -> PartnerError:
    return PartnerError(400, "CANDOR_INVALID_PARAM", message)


def not_found(message: str = "No such app") -> PartnerError:
    return PartnerError(404, "CANDOR_NOT_FOUND", message)


def forbidden(message: str) -> PartnerError:
    return PartnerError(403, "CANDOR_FORBIDDEN", message)
