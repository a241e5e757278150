"""`/privacy/grants`: conversations shared with partner apps, and the answers they need.

Every member of a room asked to share it sees the request here (as well as the notice in
the room) and accepts, with or without earlier history, or declines; any member revokes a
pending or live grant. The same page asks: one of my unencrypted rooms, an approved app
that asked for `inbox.read`, a duration. Handlers check CSRF first, then call one
`ConsentService` method and redirect (post/redirect/get); a refusal renders the page
again with the service's message and status.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import Response

from candor.core.errors import CandorError
from candor.matrix.http import Provided
from candor.partners.consent.notice import GRANTS_PAGE
from candor.partners.consent.service import ConsentService, Grant
from candor.web.forms import read_form, validate_form
from candor.web.pages import CurrentUserDep, Page, PageDep, WebUser

router = APIRouter(include_in_schema=False)

PAGE = GRANTS_PAGE  # the page the room notice links to
DONE = {
    "asked": "Your request was sent. Every member has been told in the room and here.",
    "accepted": "You accepted.",
    "declined": "You declined: the app will not read this conversation.",
    "revoked": "Revoked: the app can no longer read this conversation.",
}
ANSWERED = {"accept": "accepted", "decline": "declined", "revoke": "revoked"}
STATUS_TEXT = {
    "pending": "Waiting for answers",
    "live": "Shared",
    "declined": "Declined",
    "revoked": "Revoked",
    "voided": "Ended early",
    "expired": "Ended: its time ran out",
}

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class AskForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    room_id: Id
    client_id: Id
    days: int = Field(30, ge=1, le=90)
    include_history: str | None = None


class AcceptForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    include_history: str | None = None


ConsentDep = Annotated[ConsentService, Depends(Provided(ConsentService))]


def _when(ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class GrantRow:
    grant: Grant
    status_text: str
    room: str
    my_decision: str
    my_history: bool
    waiting_for: tuple[str, ...]
    created: str
    until: str
    ended: str
    can_answer: bool
    can_revoke: bool


def _status_text(grant: Grant, user_id: str) -> str:
    """The status in words; a declined grant names who declined it ("you" for oneself)."""
    text = STATUS_TEXT.get(grant.status, grant.status)
    if grant.status != "declined":
        return text
    who = [
        "you" if m.user_id == user_id else m.user_id
        for m in grant.members
        if m.decision == "declined"
    ]
    return f"{text} by {', '.join(who)}" if who else text


def _row(grant: Grant, user_id: str) -> GrantRow:
    mine = grant.answer_of(user_id)
    decision = mine.decision if mine is not None else "pending"
    open_ = grant.status in ("pending", "live")
    return GrantRow(
        grant=grant,
        status_text=_status_text(grant, user_id),
        room=f"{grant.room_name} ({grant.room_id})" if grant.room_name else grant.room_id,
        my_decision=decision,
        my_history=mine.include_history if mine is not None else False,
        waiting_for=tuple(m.user_id for m in grant.members if m.decision == "pending"),
        created=_when(grant.created_ts),
        until=_when(grant.expires_ts),
        ended=_when(grant.ended_ts),
        can_answer=grant.status == "pending" and decision == "pending",
        can_revoke=open_,
    )


async def _render(
    page: Page,
    user: WebUser,
    consent: ConsentService,
    *,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
) -> Response:
    grants = await consent.list_for(user.user_id)
    options = await consent.share_options(user.user_id)
    return page.render(
        "privacy/grants.html",
        status=status,
        rows=[_row(g, user.user_id) for g in grants],
        options=options,
        error=error,
        notice=DONE.get(done or "", ""),
    )


@router.get(PAGE)
async def grants_page(
    page: PageDep,
    user: CurrentUserDep,
    consent: ConsentDep,
    done: Annotated[str | None, Query()] = None,
) -> Response:
    return await _render(page, user, consent, done=done)


@router.post(f"{PAGE}/ask")
async def ask(page: PageDep, user: CurrentUserDep, consent: ConsentDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    form = validate_form(AskForm, fields)
    try:
        await consent.request(
            user.user_id,
            form.room_id,
            form.client_id,
            days=form.days,
            include_history=form.include_history is not None,
        )
    except CandorError as exc:
        return await _render(page, user, consent, status=exc.status, error=exc.message)
    return page.redirect(f"{PAGE}?done=asked")


@router.post(PAGE + "/{grant_id}/{action}")
async def answer(
    grant_id: str, action: str, page: PageDep, user: CurrentUserDep, consent: ConsentDep
) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    if action not in ANSWERED:
        return await _render(page, user, consent, status=404, error="No such action.")
    try:
        if action == "accept":
            form = validate_form(AcceptForm, fields)
            await consent.accept(user.user_id, grant_id, form.include_history is not None)
        elif action == "decline":
            await consent.decline(user.user_id, grant_id)
        else:
            await consent.revoke(user.user_id, grant_id)
    except CandorError as exc:
        return await _render(page, user, consent, status=exc.status, error=exc.message)
    return page.redirect(f"{PAGE}?done={ANSWERED[action]}")
