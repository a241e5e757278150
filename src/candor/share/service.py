"""Sharing a partner's link into conversations: drafts, cards, clicks and share requests.

Design of the click link. A card is one room event that every member receives, so a
per-recipient token cannot travel in it. The card carries one random `cdr_ct_` token per
card (`/c/{token}`, only its HMAC is stored), and the click endpoint identifies the
recipient by their web session (logging in first if needed). A `share_recipients` row
per (card, joined member other than the sender) is written with the card; the first
click sets its `first_click_ts` (once, by a guarded UPDATE) and later clicks add to
`repeat_clicks`. Clicks by anyone else (the sender, a later joiner) redirect but count
nothing. Rejected alternative: per-recipient tokens in to-device messages — invisible to
ordinary clients, and a forwarded card would count the wrong person.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from candor.core.clock import Clock
from candor.core.ids import RoomID
from candor.core.tokens import hash_token, new_token, random_string
from candor.matrix.constants import EventType
from candor.matrix.events.model import NewEvent
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.rooms.facts import joined_rooms, room_facts, room_name
from candor.partners.apps.service import APPROVED, App, PartnerAppsService
from candor.partners.errors import PartnerError, invalid, not_found
from candor.share import repository as repo
from candor.share.rules import (
    MAX_NOTE,
    ShareDraft,
    card_content,
    check_draft,
    check_text,
    link_on_domains,
)
from candor.store.db import Database
from candor.store.models.share import ShareEvent


def utc_day(ts_ms: int) -> str:
    """The UTC calendar day of a timestamp: the report's day for a send or a click."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).date().isoformat()


CARD_TOKEN_PREFIX = "cdr_ct_"  # noqa: S105 - a token kind prefix, not a secret
MAX_ROOMS = 20


@dataclass(frozen=True, slots=True)
class RoomOption:
    """A conversation the person may share into; `direct` when it has one other member."""

    room_id: str
    label: str
    direct: bool
    encrypted: bool


@dataclass(frozen=True, slots=True)
class SentShare:
    share_id: str
    cards: int
    recipients: int


async def forget_person(db: Database, user_id: str) -> None:
    """Erasure (`account/deactivate` with `erase`): the person's part in shares and in the
    engagement reports goes under a fresh pseudonym, the same in every row, so no count
    changes and nothing leads back to them (the reports never showed who, but the rows
    named them). Called before the account is erased, by the composition root."""
    async with db.write() as conn:
        await repo.pseudonymize_person(conn, user_id, f"erased:{random_string(24)}")


def refused_click() -> PartnerError:
    return PartnerError(
        400,
        "CANDOR_LINK_REFUSED",
        "This link no longer points to a domain the app has registered, so Candor will "
        "not follow it.",
    )


class ShareService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        token_key: bytes,
        persister: EventPersister,
        ratelimiter: RateLimiter,
        apps: PartnerAppsService,
        public_base_url: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._token_key = token_key
        self._persister = persister
        self._ratelimiter = ratelimiter
        self._apps = apps
        self._public_base_url = public_base_url

    def confirm_url(self, request_id: str) -> str:
        """The launcher page where the person confirms a share request (public base URL)."""
        return f"{self._public_base_url}/share?request={request_id}"

    async def approved_app(self, client_id: str) -> App:
        """The app, if it exists and is approved; otherwise the same 404 (no leak)."""
        if not client_id or len(client_id) > 64:
            raise not_found()
        app = await self._apps.find(client_id)
        if app is None or app.status != APPROVED:
            raise not_found()
        return app

    async def draft(
        self,
        client_id: str,
        *,
        url: str,
        title: str,
        description: str = "",
        image: str | None = None,
        interface: str,
        surface: str,
        variant: str,
    ) -> tuple[App, ShareDraft]:
        """Check a proposed share against the app (approved) and its registered domains."""
        app = await self.approved_app(client_id)
        draft = check_draft(
            app.client_id,
            app.domains,
            url=url,
            title=title,
            description=description,
            image=image or None,
            interface=interface,
            surface=surface,
            variant=variant,
        )
        return app, draft

    async def options(self, user_id: str) -> list[RoomOption]:
        """The person's joined rooms; direct ones (one other member) labelled by that member."""
        async with self._db.read() as conn:
            room_ids = await joined_rooms(conn, user_id)
            facts = await room_facts(conn, room_ids)
            out = []
            for room_id in sorted(room_ids):
                f = facts.get(room_id)
                if f is None:
                    continue
                others = sorted(f.joined - {user_id})
                name = await room_name(conn, room_id)
                direct = len(others) == 1
                label = name or (others[0] if direct else room_id)
                out.append(RoomOption(room_id, label, direct, f.encrypted))
        return out

    async def send(
        self,
        user_id: str,
        app: App,
        draft: ShareDraft,
        room_ids: Sequence[str],
        *,
        note: str,
        request_id: str | None = None,
    ) -> SentShare:
        """Post one card per chosen room (the sender must be joined) and record the share.

        Everything is checked before the first write; the cards, the share, the recipients
        and the request's use are written in one persister work item, so a membership
        change cannot slip between the check and the card.
        """
        rooms = sorted({str(RoomID.parse(r)) for r in room_ids})
        if not 1 <= len(rooms) <= MAX_ROOMS:
            raise invalid(f"Pick 1 to {MAX_ROOMS} conversations")
        note = check_text("note", note, max_len=MAX_NOTE)
        await self._ratelimiter.check(user_id)
        now = self._clock.now_ms()
        share_id = "share_" + random_string(16)
        day = utc_day(now)

        async def work(ctx: WriteContext) -> SentShare:
            conn = ctx.conn
            facts = await room_facts(conn, rooms)
            for room_id in rooms:
                f = facts.get(room_id)
                if f is None or user_id not in f.joined:
                    raise not_found("No such conversation")
            if request_id is not None and not await repo.claim_request(
                conn, request_id, user_id, share_id
            ):
                raise not_found("No such share request")
            await repo.add_share(
                conn,
                {
                    "share_id": share_id,
                    "client_id": app.client_id,
                    "sender": user_id,
                    "url": draft.url,
                    "title": draft.title,
                    "description": draft.description,
                    "image": draft.image,
                    "interface": draft.interface,
                    "surface": draft.surface,
                    "variant": draft.variant,
                    "day": day,
                    "ts": now,
                },
            )
            total = 0
            for room_id in rooms:
                f = facts[room_id]
                token = new_token(CARD_TOKEN_PREFIX)
                link = f"{self._public_base_url}/c/{token}"
                content = card_content(draft, app.name, link, note, encrypted_room=f.encrypted)
                ev = await ctx.append(NewEvent(room_id, EventType.MESSAGE, user_id, content, None))
                recipients = sorted(f.joined - {user_id})
                total += len(recipients)
                card_id = "card_" + random_string(16)
                await repo.add_card(
                    conn,
                    {
                        "card_id": card_id,
                        "share_id": share_id,
                        "room_id": room_id,
                        "event_id": ev.event_id,
                        "token_hash": hash_token(token, self._token_key),
                        "unencrypted_in_encrypted_room": f.encrypted,
                    },
                    recipients,
                )
                await repo.add_event(
                    conn,
                    {
                        "client_id": app.client_id,
                        "day": day,
                        "interface": draft.interface,
                        "surface": draft.surface,
                        "variant": draft.variant,
                        "kind": ShareEvent.SEND,
                        "person": user_id,
                        "recipients": len(recipients),
                        "card_id": card_id,
                        "ts": now,
                    },
                )
            return SentShare(share_id, len(rooms), total)

        return await self._persister.run(work)

    async def click(self, token: str, user_id: str) -> str:
        """Count a click by `user_id` on the card of `token`; the URL to redirect to.

        The URL's host is checked against the app's domains as they are now: a domain the
        app removed since the card was sent is refused (no open redirect).
        """
        if not token.startswith(CARD_TOKEN_PREFIX) or len(token) > 200:
            raise not_found("No such link")
        token_hash = hash_token(token, self._token_key)
        async with self._db.read() as conn:
            target = await repo.get_card_target(conn, token_hash)
        if target is None:
            raise not_found("No such link")
        app = await self._apps.find(target.client_id)
        link = None if app is None else link_on_domains(target.url, app.domains)
        if link is None:
            raise refused_click()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            if await repo.claim_first_click(conn, target.card_id, user_id, now):
                kind = ShareEvent.FIRST_CLICK
            elif await repo.add_repeat_click(conn, target.card_id, user_id):
                kind = ShareEvent.REPEAT_CLICK
            else:
                return link.href  # not a recipient of this card: followed, not counted
            await repo.add_event(
                conn,
                {
                    "client_id": target.client_id,
                    "day": utc_day(now),
                    "interface": target.interface,
                    "surface": target.surface,
                    "variant": target.variant,
                    "kind": kind,
                    "person": user_id,
                    "recipients": 0,
                    "card_id": target.card_id,
                    "ts": now,
                },
            )
        return link.href  # what was checked: the browser's serialisation of the link

    async def create_request(self, user_id: str, app: App, draft: ShareDraft) -> str:
        """A share an app proposes for `user_id`; only that person can send it."""
        request_id = "sreq_" + random_string(16)
        async with self._db.write() as conn:
            await repo.add_request(
                conn,
                {
                    "request_id": request_id,
                    "client_id": app.client_id,
                    "user_id": user_id,
                    "url": draft.url,
                    "title": draft.title,
                    "description": draft.description,
                    "image": draft.image,
                    "interface": draft.interface,
                    "surface": draft.surface,
                    "variant": draft.variant,
                    "created_ts": self._clock.now_ms(),
                },
            )
        return request_id

    async def open_request(self, request_id: str, user_id: str) -> tuple[App, ShareDraft]:
        """An unsent request of `user_id`'s, re-checked against the app as it is now."""
        if not request_id or len(request_id) > 64:
            raise not_found("No such share request")
        async with self._db.read() as conn:
            row = await repo.get_open_request(conn, request_id, user_id)
        if row is None:
            raise not_found("No such share request")
        image = row["image"]
        return await self.draft(
            str(row["client_id"]),
            url=str(row["url"]),
            title=str(row["title"]),
            description=str(row["description"]),
            image=image if isinstance(image, str) else None,
            interface=str(row["interface"]),
            surface=str(row["surface"]),
            variant=str(row["variant"]),
        )
