"""SQL for shares, cards, per-recipient clicks and share requests. Functions take the
caller's connection; no IP address or user agent is ever written."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.share import (
    Share,
    ShareCard,
    ShareEvent,
    ShareRecipient,
    ShareRequest,
)


@dataclass(frozen=True, slots=True)
class CardTarget:
    """What a click needs: the card, and the share's app and URL."""

    card_id: str
    client_id: str
    url: str
    interface: str
    surface: str
    variant: str


async def add_share(conn: AsyncConnection, row: Mapping[str, object]) -> None:
    await conn.execute(insert(Share).values(**row))


async def add_card(
    conn: AsyncConnection, row: Mapping[str, object], recipients: Sequence[str]
) -> None:
    await conn.execute(insert(ShareCard).values(**row))
    if recipients:
        await conn.execute(
            insert(ShareRecipient),
            [
                {
                    "card_id": row["card_id"],
                    "user_id": u,
                    "first_click_ts": None,
                    "repeat_clicks": 0,
                }
                for u in recipients
            ],
        )


async def get_card_target(conn: AsyncConnection, token_hash: str) -> CardTarget | None:
    row = (
        await conn.execute(
            select(
                ShareCard.card_id,
                Share.client_id,
                Share.url,
                Share.interface,
                Share.surface,
                Share.variant,
            )
            .join(Share, Share.share_id == ShareCard.share_id)
            .where(ShareCard.token_hash == token_hash)
        )
    ).first()
    if row is None:
        return None
    return CardTarget(row.card_id, row.client_id, row.url, row.interface, row.surface, row.variant)


async def add_event(conn: AsyncConnection, row: Mapping[str, object]) -> None:
    """One fact for the engagement report, in the caller's transaction."""
    await conn.execute(insert(ShareEvent).values(**row))


async def claim_first_click(conn: AsyncConnection, card_id: str, user_id: str, ts: int) -> bool:
    """Set the first click if there was none; the `IS NULL` guard makes it count once even
    when two clicks race (the second UPDATE matches no row)."""
    result = await conn.execute(
        update(ShareRecipient)
        .where(
            ShareRecipient.card_id == card_id,
            ShareRecipient.user_id == user_id,
            ShareRecipient.first_click_ts.is_(None),
        )
        .values(first_click_ts=ts)
    )
    return bool(result.rowcount)


async def add_repeat_click(conn: AsyncConnection, card_id: str, user_id: str) -> bool:
    """Count a repeat click in SQL (no read-modify-write); False if not a recipient."""
    result = await conn.execute(
        update(ShareRecipient)
        .where(ShareRecipient.card_id == card_id, ShareRecipient.user_id == user_id)
        .values(repeat_clicks=ShareRecipient.repeat_clicks + 1)
    )
    return bool(result.rowcount)


async def add_request(conn: AsyncConnection, row: Mapping[str, object]) -> None:
    await conn.execute(insert(ShareRequest).values(**row))


async def get_open_request(
    conn: AsyncConnection, request_id: str, user_id: str
) -> Mapping[str, object] | None:
    row = (
        await conn.execute(
            select(ShareRequest).where(
                ShareRequest.request_id == request_id,
                ShareRequest.user_id == user_id,
                ShareRequest.share_id.is_(None),
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def claim_request(
    conn: AsyncConnection, request_id: str, user_id: str, share_id: str
) -> bool:
    """Mark a request used; the `share_id IS NULL` guard lets it be sent only once."""
    result = await conn.execute(
        update(ShareRequest)
        .where(
            ShareRequest.request_id == request_id,
            ShareRequest.user_id == user_id,
            ShareRequest.share_id.is_(None),
        )
        .values(share_id=share_id)
    )
    return bool(result.rowcount)


async def pseudonymize_person(conn: AsyncConnection, user_id: str, pseudonym: str) -> None:
    """An erased person's shares, clicks and report rows under a name that leads nowhere;
    their pending share requests are dropped. One pseudonym for all the rows keeps every
    count right (a click is still one person's first click; a report cell still counts
    distinct people for its threshold)."""
    await conn.execute(update(Share).where(Share.sender == user_id).values(sender=pseudonym))
    await conn.execute(
        update(ShareRecipient).where(ShareRecipient.user_id == user_id).values(user_id=pseudonym)
    )
    await conn.execute(
        update(ShareEvent).where(ShareEvent.person == user_id).values(person=pseudonym)
    )
    await conn.execute(delete(ShareRequest).where(ShareRequest.user_id == user_id))
