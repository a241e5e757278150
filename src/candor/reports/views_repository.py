"""SQL behind the report pages: an app's webhook, and a person's own shares with the reports
that cover them (deliveries are read through `delivery_repository`).

Everything a person reads about their shares is counted here (conversations, recipients,
how many clicked), never listed: the page shows no recipient's id, as the report shows none.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.partners import PartnerApp
from candor.store.models.reports import Report
from candor.store.models.share import Share, ShareCard, ShareRecipient

MAX_SHARES = 200


@dataclass(frozen=True, slots=True)
class ShareCounts:
    """One of the person's shares, with what became of it, as counts."""

    share_id: str
    client_id: str
    app_name: str
    title: str
    url: str
    day: str
    interface: str
    surface: str
    variant: str
    ts: int
    conversations: int
    recipients: int
    clicked: int


async def set_webhook(
    conn: AsyncConnection, client_id: str, url: str | None, secret_sealed: str | None
) -> bool:
    """Replace the app's webhook URL and sealed secret together; False if the app is gone."""
    result = await conn.execute(
        update(PartnerApp)
        .where(PartnerApp.client_id == client_id)
        .values(webhook_url=url, webhook_secret_sealed=secret_sealed)
    )
    return result.rowcount == 1


async def list_shares_of(
    conn: AsyncConnection, user_id: str, limit: int = MAX_SHARES
) -> list[ShareCounts]:
    """The person's newest shares (as sender) with card and recipient counts."""
    s = Share
    shares = (
        await conn.execute(
            select(
                s.share_id,
                s.client_id,
                func.coalesce(PartnerApp.name, s.client_id).label("app_name"),
                s.title,
                s.url,
                s.day,
                s.interface,
                s.surface,
                s.variant,
                s.ts,
            )
            .outerjoin(PartnerApp, PartnerApp.client_id == s.client_id)
            .where(s.sender == user_id)
            .order_by(s.ts.desc(), s.share_id)
            .limit(limit)
        )
    ).all()
    if not shares:
        return []
    ids = [r.share_id for r in shares]
    cards: dict[str, int] = {
        r.share_id: int(r.n)
        for r in await conn.execute(
            select(ShareCard.share_id, func.count().label("n"))
            .where(ShareCard.share_id.in_(ids))
            .group_by(ShareCard.share_id)
        )
    }
    clicked_expr = func.sum(
        case((ShareRecipient.first_click_ts.is_not(None), 1), else_=0), type_=Integer
    )
    people: dict[str, tuple[int, int]] = {
        r.share_id: (int(r.n), int(r.clicked or 0))
        for r in await conn.execute(
            select(ShareCard.share_id, func.count().label("n"), clicked_expr.label("clicked"))
            .join(ShareRecipient, ShareRecipient.card_id == ShareCard.card_id)
            .where(ShareCard.share_id.in_(ids))
            .group_by(ShareCard.share_id)
        )
    }
    return [
        ShareCounts(
            share_id=r.share_id,
            client_id=r.client_id,
            app_name=r.app_name,
            title=r.title,
            url=r.url,
            day=r.day,
            interface=r.interface,
            surface=r.surface,
            variant=r.variant,
            ts=int(r.ts),
            conversations=cards.get(r.share_id, 0),
            recipients=people.get(r.share_id, (0, 0))[0],
            clicked=people.get(r.share_id, (0, 0))[1],
        )
        for r in shares
    ]


async def list_reports_covering(
    conn: AsyncConnection, days_by_app: Mapping[str, Sequence[str]]
) -> list[Mapping[str, object]]:
    """Reports of these apps whose period contains at least one of the given days.

    One condition per (app, day): a person's bounded list of shares keeps it small.
    """
    conditions = [
        (Report.client_id == client_id) & (Report.period_start <= day) & (Report.period_end >= day)
        for client_id, days in days_by_app.items()
        for day in sorted(set(days))
    ]
    if not conditions:
        return []
    rows = await conn.execute(
        select(Report)
        .where(or_(*conditions))
        .order_by(Report.period_end.desc(), Report.client_id, Report.report_id)
    )
    return [dict(r._mapping) for r in rows]
