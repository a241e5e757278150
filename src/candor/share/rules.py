"""What a share may carry: the partner's labels, the link, texts. Pure checks, no I/O.

A link (and an image) must be an absolute https URL (http only on a loopback host, for
development) whose host is on one of the app's registered domains, so a card can only
send people where the partner said (DESIGN invariant 5). The same check runs again at
click time, since an app may drop a domain after a card was sent. The host compared is the
one a browser would connect to (`core.urls`: `https://flix.example%2eevil.test/` goes to
flix.example.evil.test), and the link stored and shown is the browser's serialisation.
"""

import re
from dataclasses import dataclass

from candor.core.urls import UrlRefused, WebUrl, check_web_url
from candor.partners.apps.rules import host_is_on
from candor.partners.errors import invalid

_LABEL = re.compile(r"[a-z0-9_-]{1,32}")
MAX_URL = 2000
MAX_TITLE = 200
MAX_DESCRIPTION = 1000
MAX_NOTE = 1000


@dataclass(frozen=True, slots=True)
class ShareDraft:
    """A validated share, before anyone picked the conversations."""

    client_id: str
    url: str
    title: str
    description: str
    image: str | None
    interface: str
    surface: str
    variant: str


def check_label(field: str, value: str) -> str:
    """1 to 32 characters of a-z, 0-9, `_` and `-`: the report's cells are keyed by it."""
    if not _LABEL.fullmatch(value):
        raise invalid(f"{field} must be 1 to 32 characters of a-z, 0-9, _ and -")
    return value


def link_on_domains(url: str, domains: tuple[str, ...] | list[str]) -> WebUrl | None:
    """`url` as a browser serialises it, if it is absolute https (http on loopback) and
    its host is on one of `domains`; None otherwise."""
    try:
        parsed = check_web_url(url, "url")
    except UrlRefused:
        return None
    return parsed if host_is_on(parsed.hostname, list(domains)) else None


def url_on_domains(url: str, domains: tuple[str, ...] | list[str]) -> bool:
    """True when `url` is absolute https (http on loopback) and its host is registered."""
    return link_on_domains(url, domains) is not None


def check_url(field: str, url: str, domains: tuple[str, ...] | list[str]) -> str:
    """The link in its browser serialisation; raises `invalid` unless it is on `domains`."""
    found = link_on_domains(url, domains)
    if found is None:
        raise invalid(
            f"{field} must be an absolute https URL on one of the app's registered domains"
        )
    return found.href


def check_text(field: str, value: str, *, max_len: int, min_len: int = 0) -> str:
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise invalid(f"{field} must be {min_len} to {max_len} characters")
    if any(ord(c) < 32 and c not in "\n" for c in value):
        raise invalid(f"{field} must not contain control characters")
    return value


def check_draft(
    client_id: str,
    domains: tuple[str, ...],
    *,
    url: str,
    title: str,
    description: str,
    image: str | None,
    interface: str,
    surface: str,
    variant: str,
) -> ShareDraft:
    """Every field of a share, checked against the app's domains; raises `invalid`."""
    return ShareDraft(
        client_id=client_id,
        url=check_url("url", url, domains),
        title=check_text("title", title, max_len=MAX_TITLE, min_len=1),
        description=check_text("description", description, max_len=MAX_DESCRIPTION),
        image=check_url("image", image, domains) if image else None,
        interface=check_label("interface", interface),
        surface=check_label("surface", surface),
        variant=check_label("variant", variant),
    )


def card_content(
    draft: ShareDraft, app_name: str, link: str, note: str, *, encrypted_room: bool
) -> dict[str, object]:
    """The room message: a plain-text fallback `body` and the `io.candor.card` object.

    In an encrypted room the server cannot encrypt for the members, so the card is said
    to be unencrypted, in the body and in a flag clients can show (never silently).
    """
    lines = [draft.title]
    if draft.description:
        lines.append(draft.description)
    lines.append(link)
    lines.append(f"shared via {app_name}")
    if note:
        lines.insert(0, note)
    body = "\n".join(lines)
    if encrypted_room:
        body = f"Shared via {app_name} — not encrypted:\n{body}"
    content: dict[str, object] = {
        "msgtype": "m.text",
        "body": body,
        "io.candor.card": {
            "app": {"id": draft.client_id, "name": app_name},
            "title": draft.title,
            "description": draft.description,
            "image": draft.image,
            "link": link,
        },
    }
    if encrypted_room:
        content["io.candor.card.unencrypted"] = True
    return content
