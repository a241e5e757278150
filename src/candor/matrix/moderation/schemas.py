"""Wire models for reports, the report queue, locks, suspensions and whois."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class EventReportBody(_Body):
    """`reason` may be absent. `score` was removed in Matrix 1.18: ignored if sent."""

    reason: StrictStr | None = None


class ReportBody(_Body):
    """A room or user report: `reason` is required and may be blank."""

    reason: StrictStr


class LockBody(_Body):
    locked: StrictBool


class SuspendBody(_Body):
    suspended: StrictBool


class CloseReportBody(_Body):
    note: StrictStr | None = Field(None, max_length=2000)


class AdminReport(BaseModel):
    """A queued report: who reported what and why; never the reported content."""

    report_id: int
    kind: str
    reporter: str
    room_id: str | None = None
    event_id: str | None = None
    user_id: str | None = None
    reason: str
    received_ts: int
    status: str
    closed_by: str | None = None
    closed_ts: int | None = None
    note: str | None = None


class AdminReportsResponse(BaseModel):
    reports: list[AdminReport]
    next_from: int | None = None
