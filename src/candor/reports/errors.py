"""Report errors, in the `CANDOR_…` shape every Candor API uses."""

from candor.core.errors import CandorError


class ReportError(CandorError):
    def __init__(self, status: int, errcode: str, message: str) -> None:
        super().__init__(message, status=status, errcode=errcode)


def period_not_over(end: str) -> ReportError:
    return ReportError(
        400,
        "CANDOR_PERIOD_NOT_OVER",
        f"The period ending {end} is not over yet (days are UTC): its counts could still change",
    )


def budget_exhausted(spent: float, asked: float, total: float) -> ReportError:
    return ReportError(
        409,
        "CANDOR_PRIVACY_BUDGET_EXHAUSTED",
        f"This report needs ε = {asked:g} but the app has spent {spent:g} of its {total:g}; "
        "Candor will not release more about the same people",
    )


def report_not_found() -> ReportError:
    return ReportError(404, "CANDOR_NOT_FOUND", "No such report")
