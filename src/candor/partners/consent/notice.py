"""The notice posted in a room when a member asks to share it: pure text, no I/O.

It must tell every member which app, what it would read, for how long, and where to
answer; the same facts are in `content["org.candor.grant"]` for clients that show more.
"""

from candor.core.canonical_json import JsonDict
from candor.partners.apps.service import App
from candor.partners.consent.rules import Status

# The privacy page where members answer; the notice links to it under the public base URL.
GRANTS_PAGE = "/privacy/grants"


def notice_content(
    asker: str,
    app: App,
    days: int,
    include_history: bool,
    status: str,
    answer_url: str,
    grant_id: str,
) -> JsonDict:
    """The room notice: which app, what it would read, for how long, where to answer."""
    if status == Status.LIVE:
        what = (
            "the messages its members send in this room, earlier history included"
            if include_history
            else "the messages its members send in this room from now on"
        )
        body = (
            f"{asker} shared this room with the app \u201c{app.name}\u201d for {days} days: "
            f"it may read {what}, and who is a member; messages of people who are no longer "
            f"members are never shared. Anyone joining or leaving ends it. "
            f"Revoke it at any time at {answer_url}"
        )
    else:
        what = (
            "the messages its members send in this room, including earlier history only "
            "if every member ticks that box"
            if include_history
            else "the messages its members send in this room from the moment every member "
            "has accepted"
        )
        body = (
            f"{asker} asks everyone in this room to let the app \u201c{app.name}\u201d read "
            f"{what}, and who is a member, for {days} days, under version "
            f"{app.agreement.version} of its agreement. Messages of people who are no longer "
            f"members are never shared: they were not asked. It starts only if every member "
            f"accepts; anyone may decline it or later revoke it, and anyone joining or "
            f"leaving ends it, as does a new version of the app's agreement. Accept or "
            f"decline at {answer_url}"
        )
    return {
        "msgtype": "m.notice",
        "body": body,
        "org.candor.grant": {
            "grant_id": grant_id,
            "client_id": app.client_id,
            "app_name": app.name,
            "days": days,
            "agreement_version": app.agreement.version,
            "status": status,
            "answer_url": answer_url,
        },
    }
