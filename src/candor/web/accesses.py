"""The "Who accessed my data" page's wording: each access record as plain sentences.

A record holds ids and codes (an app's client id, a room id, a grant id, an action such as
`partner.read_room_messages`); the person reading it wants names: the app and its
published agreement, the conversation, the people, the time. This module turns one record
plus names looked up for the whole page (`wanted` says which, so a page of 50 records
makes one lookup per kind, never one per record) into the sentences the template shows.

Every `AccessAction` has an entry in `WORDING` (a test fails for one without). Records
are validated when written (`transparency/records.py`), but the page must never fail on
an older or unfamiliar shape, so every field is read defensively and an unfamiliar action
is described in general words, never by its code. Pure: no I/O.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from candor.core.canonical_json import JsonDict
from candor.matrix.privacy.service import MyAccesses, Names
from candor.transparency.records import AccessAction, ActorKind

Status = Literal["verified", "pending", "failed"]

GRANT_PREFIXES = ("grant ", "grants ")
PARTNERS_PAGE = "/partners"


@dataclass(frozen=True, slots=True)
class AppRef:
    """A partner app as the page names it: its name, and its public agreement if listed."""

    name: str
    agreement_url: str | None


@dataclass(frozen=True, slots=True)
class GrantRef:
    """A conversation-sharing consent: the room it was for and the members it asked."""

    room_id: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lookups:
    """Everything looked up for one page (see `wanted`), plus who is reading it."""

    viewer: str
    names: Names = field(default_factory=Names)
    apps: Mapping[str, AppRef] = field(default_factory=dict)
    grants: Mapping[str, GrantRef] = field(default_factory=dict)

    def person(self, user_id: str) -> str:
        if user_id == self.viewer:
            return "you"
        return self.names.people.get(user_id) or user_id

    def account(self, user_id: str) -> str:
        """ "Root (@root:example.org)": who an administrator is, by name and id."""
        if user_id == self.viewer:
            return "you"
        shown = self.names.people.get(user_id)
        return f"{shown} ({user_id})" if shown else user_id

    def room(self, room_id: str) -> str:
        name = self.names.rooms.get(room_id)
        return f"“{name}”" if name else "a conversation without a name"


@dataclass(frozen=True, slots=True)
class Wanted:
    """The ids a page of records mentions, to look up once for the whole page."""

    apps: set[str] = field(default_factory=set)
    grants: set[str] = field(default_factory=set)
    rooms: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    positions: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Wording:
    """What one action says: a headline verb phrase and what exactly was seen."""

    did: str  # "read messages in “Film club”"
    saw: str  # "4 messages in “Film club”, sent on … between 10:00 and 10:05 UTC"


@dataclass(frozen=True, slots=True)
class AccessRow:
    index: int
    who: str
    who_url: str | None
    who_detail: str
    did: str
    saw: str
    why_label: str
    why: str
    why_is_quote: bool  # an administrator's own words, shown as a quotation
    when: str
    when_iso: str
    people: str
    status: Status


@dataclass(frozen=True, slots=True)
class AccessesView:
    rows: list[AccessRow]
    checkpoint_size: int
    checkpoint_origin: str
    newer_url: str | None = None
    older_url: str | None = None

    @property
    def pending(self) -> int:
        return sum(1 for row in self.rows if row.status == "pending")


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _strs(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _when(ts_ms: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _day(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def human_time(ts_ms: int) -> tuple[str, str]:
    """("29 November 2026, 12:20:05 UTC", ISO 8601) for a Matrix millisecond timestamp."""
    when = _when(ts_ms)
    if when is None:
        return ("an unknown time", "")
    text = f"{_day(when)}, {when:%H:%M:%S} UTC"
    return text, when.isoformat(timespec="seconds").replace("+00:00", "Z")


def human_span(first_ms: int, last_ms: int) -> str:
    """When a run of messages was sent: "on 3 December 2026 between 10:00 and 10:05 UTC"."""
    first, last = _when(min(first_ms, last_ms)), _when(max(first_ms, last_ms))
    if first is None or last is None:
        return ""
    if f"{first:%Y%m%d%H%M}" == f"{last:%Y%m%d%H%M}":
        return f"on {_day(first)} at {first:%H:%M} UTC"
    if first.date() == last.date():
        return f"on {_day(first)} between {first:%H:%M} and {last:%H:%M} UTC"
    return f"between {_day(first)}, {first:%H:%M} UTC and {_day(last)}, {last:%H:%M} UTC"


def join_words(items: Sequence[str]) -> str:
    """ "you", "you and Bob", "you, Bob and Carol"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def sentence(text: str) -> str:
    """The first letter capitalised, the rest (names!) left as written."""
    return text[:1].upper() + text[1:]


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _grant_ids(record: JsonDict) -> list[str]:
    """The grants a partner read names: `resource.grant_id`, else the basis's list."""
    one = _str(_dict(record.get("resource")).get("grant_id"))
    if one:
        return [one]
    basis = _str(record.get("basis"))
    for prefix in GRANT_PREFIXES:
        if basis.startswith(prefix):
            return basis[len(prefix) :].split()
    return []


def _span_of(resource: JsonDict, names: Lookups) -> str:
    first, last = _int(resource.get("from")), _int(resource.get("to"))
    if first is None or last is None:
        return ""
    times = names.names.times
    if first in times and last in times:
        return human_span(times[first], times[last])
    return ""


def _in_room(resource: JsonDict, names: Lookups, noun: tuple[str, str]) -> str:
    room = _str(resource.get("room_id"))
    count = _int(resource.get("count"))
    text = plural(count, *noun) if count is not None else noun[1]
    text += f" in {names.room(room)}" if room else ""
    span = _span_of(resource, names)
    return f"{text}, sent {span}" if span else text


# --- one entry per action ----------------------------------------------------------------


def _partner_reads_messages(record: JsonDict, names: Lookups) -> Wording:
    resource = _dict(record.get("resource"))
    room = names.room(_str(resource.get("room_id")))
    saw = _in_room(resource, names, ("message", "messages"))
    withheld = _int(resource.get("withheld")) or 0
    if withheld:
        saw += (
            f". {plural(withheld, 'message was', 'messages were')} withheld: "
            "sent by someone who had not agreed"
        )
    return Wording(f"read messages in {room}", saw)


def _partner_lists_rooms(record: JsonDict, names: Lookups) -> Wording:
    rooms = _strs(_dict(record.get("resource")).get("rooms"))
    listed = join_words([names.room(r) for r in rooms]) or "none"
    return Wording(
        "saw which conversations are shared with it",
        f"the list of conversations shared with it, with their members: {listed}",
    )


def _partner_reads_profile(record: JsonDict, names: Lookups) -> Wording:
    return Wording("read your profile", "your display name and user id")


def _admin_reads_messages(record: JsonDict, names: Lookups) -> Wording:
    resource = _dict(record.get("resource"))
    room = names.room(_str(resource.get("room_id")))
    return Wording(
        f"read messages in {room}",
        _in_room(resource, names, ("message or other event", "messages and other events")),
    )


def _admin_lists_users(record: JsonDict, names: Lookups) -> Wording:
    count = _int(_dict(record.get("resource")).get("count"))
    accounts = plural(count, "account", "accounts") if count is not None else "accounts"
    return Wording(
        "looked at the list of accounts",
        f"a list of {accounts} including yours: user ids and display names",
    )


def _admin_lists_rooms(record: JsonDict, names: Lookups) -> Wording:
    count = _int(_dict(record.get("resource")).get("count"))
    if count == 1:
        saw = "a list of 1 room with its name and members: a room you are or were in"
    else:
        rooms = "rooms" if count is None else f"{count} rooms"
        saw = f"a list of {rooms} with their names and members, including a room you are or were in"
    return Wording("looked at the list of rooms", saw)


def _admin_reads_reported_event(record: JsonDict, names: Lookups) -> Wording:
    room = names.room(_str(_dict(record.get("resource")).get("room_id")))
    return Wording(
        f"read a reported message in {room}",
        f"1 message of yours in {room} that someone reported to the administrators",
    )


def _admin_whois(record: JsonDict, names: Lookups) -> Wording:
    return Wording(
        "looked up your sessions",
        "your devices and when each was last used",
    )


def _account_erased(record: JsonDict, names: Lookups) -> Wording:
    return Wording(
        "erased the account's content at its holder's request",
        "its messages, display name, avatar and uploaded media; earlier records stay in the log",
    )


WORDING: Mapping[AccessAction, Callable[[JsonDict, Lookups], Wording]] = {
    AccessAction.PARTNER_READ_MESSAGES: _partner_reads_messages,
    AccessAction.PARTNER_LIST_ROOMS: _partner_lists_rooms,
    AccessAction.PARTNER_READ_PROFILE: _partner_reads_profile,
    AccessAction.ADMIN_READ_MESSAGES: _admin_reads_messages,
    AccessAction.ADMIN_LIST_USERS: _admin_lists_users,
    AccessAction.ADMIN_LIST_ROOMS: _admin_lists_rooms,
    AccessAction.ADMIN_READ_REPORTED_EVENT: _admin_reads_reported_event,
    AccessAction.ADMIN_WHOIS: _admin_whois,
    AccessAction.ACCOUNT_ERASED: _account_erased,
}


def _unfamiliar(record: JsonDict, names: Lookups) -> Wording:
    return Wording(
        "accessed your data",
        "this page cannot describe this kind of access; the full record is in your "
        "data under “Check it yourself”",
    )


def _wording(record: JsonDict, names: Lookups) -> Wording:
    try:
        action = AccessAction(_str(record.get("action")))
    except ValueError:
        return _unfamiliar(record, names)
    return WORDING[action](record, names)


# --- who, and under which consent --------------------------------------------------------


def _who(kind: str, actor_id: str, names: Lookups) -> tuple[str, str | None, str]:
    """(who, link to their published terms, detail) for the record's actor."""
    if kind == ActorKind.PARTNER_APP:
        app = names.apps.get(actor_id)
        if app is None:
            return ("A partner app that no longer exists", None, "")
        return (app.name, app.agreement_url, "a partner app")
    if kind == ActorKind.ADMIN:
        return ("An administrator", None, f"signed in as {names.account(actor_id)}")
    if kind == ActorKind.SYSTEM:
        return ("The server itself", None, "")
    return ("Someone", None, "")


def _consent(record: JsonDict, names: Lookups) -> str:
    """The grants named for their rooms and members: “Film club” (you, Bob and Carol)."""
    named = []
    for grant_id in _grant_ids(record):
        grant = names.grants.get(grant_id)
        if grant is None:
            continue
        members = sorted(grant.members, key=lambda m: (m != names.viewer, names.person(m)))
        people = join_words([names.person(m) for m in members])
        named.append(f"{names.room(grant.room_id)} ({people})")
    if not named:
        return ""
    return f"the consent to share {join_words(named)}"


def _why(kind: str, action: str, record: JsonDict, names: Lookups) -> tuple[str, str]:
    """(label, text) for the basis: the grant in words, or the administrator's reason."""
    basis = _str(record.get("basis"))
    if kind == ActorKind.ADMIN:
        return ("The reason they gave", basis or "none given")
    if kind == ActorKind.PARTNER_APP:
        if action == AccessAction.PARTNER_READ_PROFILE:
            return ("Allowed by", "your consent when you connected the app (“profile” permission)")
        consent = _consent(record, names)
        return ("Allowed by", consent or "the members' consent to share a conversation")
    return ("Reason", basis or "none given")


def _people(subjects: list[str], viewer: str) -> str:
    others = len([s for s in subjects if s != viewer])
    if others == 0:
        return "only you"
    return f"you and {plural(others, 'other person', 'other people')}"


def access_row(item: JsonDict, names: Lookups) -> AccessRow:
    record = _dict(item.get("record"))
    actor = _dict(record.get("actor"))
    kind, actor_id = _str(actor.get("kind")), _str(actor.get("id"))
    action = _str(record.get("action"))
    ts = _int(record.get("ts"))
    when, when_iso = human_time(ts) if ts is not None else ("an unknown time", "")
    status: Status
    if item.get("verified") is True:
        status = "verified"
    elif item.get("proof") is None:
        status = "pending"
    else:
        status = "failed"
    who, who_url, who_detail = _who(kind, actor_id, names)
    wording = _wording(record, names)
    why_label, why = _why(kind, action, record, names)
    return AccessRow(
        index=_int(item.get("index")) or 0,
        who=who,
        who_url=who_url,
        who_detail=who_detail,
        did=wording.did,
        saw=sentence(wording.saw),
        why_label=why_label,
        why=why if kind == ActorKind.ADMIN else sentence(why),
        why_is_quote=kind == ActorKind.ADMIN,
        when=when,
        when_iso=when_iso,
        people=sentence(_people(_strs(record.get("subjects")), names.viewer)),
        status=status,
    )


def wanted(records: Iterable[JsonDict]) -> Wanted:
    """Every id a page of records mentions, so each kind is looked up once per page."""
    out = Wanted()
    for item in records:
        record = _dict(item.get("record"))
        actor = _dict(record.get("actor"))
        resource = _dict(record.get("resource"))
        if actor.get("kind") == ActorKind.PARTNER_APP:
            out.apps.add(_str(actor.get("id")))
            out.grants.update(_grant_ids(record))
        elif actor.get("kind") == ActorKind.ADMIN:
            out.people.add(_str(actor.get("id")))
        if room := _str(resource.get("room_id")):
            out.rooms.add(room)
        out.rooms.update(_strs(resource.get("rooms")))
        for key in ("from", "to"):
            if (position := _int(resource.get(key))) is not None:
                out.positions.add(position)
    out.apps.discard("")
    out.people.discard("")
    return out


def agreement_url(client_id: str) -> str:
    """Where anyone reads an approved app's agreement: its entry on the public list."""
    return f"{PARTNERS_PAGE}#app-{client_id}"


def page_url(*, before: int | None = None, after: int | None = None) -> str:
    if before is not None:
        return f"/privacy/accesses?before={before}"
    return f"/privacy/accesses?after={after}"


def accesses_view(found: MyAccesses, names: Lookups) -> AccessesView:
    rows = [access_row(item, names) for item in found.records]
    return AccessesView(
        rows=rows,
        checkpoint_size=found.size,
        checkpoint_origin=found.origin,
        newer_url=page_url(after=rows[0].index) if found.newer and rows else None,
        older_url=page_url(before=rows[-1].index) if found.older and rows else None,
    )
