"""All-party consent for a room grant, as pure decisions (DESIGN invariant 1). No I/O.

A grant is live only while every member recorded when it was asked is still the room's
whole joined membership, each of them accepted, no one declined or revoked, no membership
change happened since, the app is still approved under the agreement version the members
were shown, and it has not expired. Even then the app reads only what the people who
accepted wrote (`served`): someone who left before the grant was never asked. The stored status is what the last write
decided; `observe` is what it is *now*, and every read path goes through it, so a grant
can never be used after a membership change or its expiry even if no one wrote since.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from candor.partners.errors import PartnerError, forbidden, invalid

INBOX_SCOPE: Final = "inbox.read"
DEFAULT_DAYS: Final = 30
MIN_DAYS: Final = 1
MAX_DAYS: Final = 90
DAY_MS: Final = 86_400_000


class Status(StrEnum):
    PENDING = "pending"
    LIVE = "live"
    DECLINED = "declined"
    REVOKED = "revoked"
    VOIDED = "voided"
    EXPIRED = "expired"


class Decision(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


OPEN: Final = frozenset({Status.PENDING, Status.LIVE})


def room_encrypted() -> PartnerError:
    return PartnerError(
        400,
        "CANDOR_ROOM_ENCRYPTED",
        "This room is end-to-end encrypted: the server holds only ciphertext that no one "
        "but the members' devices can read, so there is nothing it could share with an app.",
    )


def grant_exists(grant_id: str) -> PartnerError:
    err = PartnerError(
        409,
        "CANDOR_GRANT_EXISTS",
        "This room already has a pending or live grant for this app; answer or revoke it.",
    )
    err.extra = {"grant_id": grant_id}
    return err


def not_pending(status: str) -> PartnerError:
    return PartnerError(
        409,
        "CANDOR_GRANT_NOT_PENDING",
        f"This grant is {status}: only a pending request can be accepted or declined"
        + (" (revoke it instead)." if status == Status.LIVE else "."),
    )


def grant_ended(status: str) -> PartnerError:
    return PartnerError(409, "CANDOR_GRANT_ENDED", f"This grant has already ended ({status}).")


def check_days(days: int | None) -> int:
    if days is None:
        return DEFAULT_DAYS
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise invalid(f"days must be from {MIN_DAYS} to {MAX_DAYS}")
    return days


def check_app(status: str, scopes: Iterable[str]) -> None:
    """The app must be approved and have asked for `inbox.read` (its agreement says so)."""
    if status != "approved":
        raise forbidden("This app is not approved, so no one can share a conversation with it")
    if INBOX_SCOPE not in scopes:
        raise forbidden("This app did not ask to read conversations (the inbox.read scope)")


APP_SUSPENDED: Final = "the app was suspended"


def new_agreement(version: int) -> str:
    """Why a grant given under an older agreement ended."""
    return f"the app published a new agreement (version {version}); the members must be asked again"


def app_ended(app_status: str | None, app_version: int | None, grant_version: int) -> str | None:
    """Why the app's side ends a grant now, or None while it still holds.

    A grant is consent to one agreement version of an approved app. Suspension ends it for
    good (re-approval does not revive it: the members agreed to an app the operator has
    since found wanting); a new agreement version is a material change, so the members
    must be asked again rather than be held to terms they never saw.
    """
    if app_status is None or app_version is None:
        return "the app no longer exists"
    if app_status != "approved":
        return APP_SUSPENDED
    if app_version != grant_version:
        return new_agreement(app_version)
    return None


def served(senders: Iterable[str], members: frozenset[str]) -> list[bool]:
    """For each event's sender, whether it may be served: only people who accepted.

    Everyone joined when the grant was asked is a member who accepted (a live grant has
    no one else); anyone else (a person who left before, or was never joined) was never
    asked, so their events are withheld, not merely logged.
    """
    return [sender in members for sender in senders]


def membership_changed(events: Iterable[tuple[str, str, str | None]]) -> bool:
    """Whether any member event is a real change (join, leave, kick, ban, invite…).

    A join while joined only updates a profile (display name, avatar) and changes no one's
    access, so it does not count; everything else does, including a leave and re-join.
    """
    return any(membership != before for _, membership, before in events)


def decided_status(decisions: Mapping[str, str]) -> Status:
    """The status the answers give: any decline ends it, all accepted makes it live."""
    values = list(decisions.values())
    if Decision.DECLINED in values:
        return Status.DECLINED
    if values and all(v == Decision.ACCEPTED for v in values):
        return Status.LIVE
    return Status.PENDING


@dataclass(frozen=True, slots=True)
class Observation:
    status: Status
    reason: str | None  # why it ended now (None if unchanged)


def observe(
    stored: str,
    *,
    members: frozenset[str],
    joined: frozenset[str],
    changed: bool,
    expires_ts: int | None,
    now_ms: int,
    encrypted: bool = False,
    app_reason: str | None = None,
) -> Observation:
    """The grant's status now. Fails closed: anything unexpected is not live.

    `members` are the people recorded when it was asked, `joined` the room's joined
    members now, `changed` whether a membership change happened since it was recorded,
    `encrypted` whether the room has turned on end-to-end encryption since: from then on
    its messages are ciphertext, and the grant ends rather than pretend to serve them.
    `app_reason` is `app_ended`'s answer: the app's suspension or a new agreement ends it.
    """
    status = Status(stored)
    if status not in OPEN:
        return Observation(status, None)
    if app_reason is not None:
        return Observation(Status.VOIDED, app_reason)
    if changed or members != joined:
        return Observation(Status.VOIDED, "the room's membership changed")
    if encrypted:
        return Observation(Status.VOIDED, "the room is now end-to-end encrypted")
    if status == Status.LIVE and (expires_ts is None or now_ms >= expires_ts):
        return Observation(Status.EXPIRED, "it reached the end of its duration")
    return Observation(status, None)


def window_start(include_history: Iterable[bool], live_pos: int) -> int:
    """Earlier history only if *every* member ticked the box; else from going live."""
    return 0 if all(include_history) else live_pos


def expiry(live_ts: int, days: int) -> int:
    return live_ts + days * DAY_MS
