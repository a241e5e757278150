"""SQL for partner apps, their redirect URIs, domains and agreement versions."""

from collections.abc import Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.partners.consent.rules import OPEN, Status
from candor.store.db import TableRow
from candor.store.models.partners import (
    OAuthToken,
    PartnerAgreement,
    PartnerApp,
    PartnerDomain,
    PartnerRedirectURI,
    RoomGrant,
)


async def add_app(conn: AsyncConnection, values: dict[str, object]) -> None:
    await conn.execute(insert(PartnerApp).values(**values))


async def add_redirect_uris(conn: AsyncConnection, client_id: str, uris: Sequence[str]) -> None:
    await conn.execute(
        insert(PartnerRedirectURI), [{"client_id": client_id, "uri": u} for u in uris]
    )


async def add_domains(conn: AsyncConnection, client_id: str, domains: Sequence[str]) -> None:
    if domains:
        await conn.execute(
            insert(PartnerDomain), [{"client_id": client_id, "domain": d} for d in domains]
        )


async def add_agreement(conn: AsyncConnection, values: dict[str, object]) -> None:
    await conn.execute(insert(PartnerAgreement).values(**values))


async def get_apps(
    conn: AsyncConnection,
    client_ids: Sequence[str] | None = None,
    *,
    status: str | None = None,
    owner: str | None = None,
) -> list[TableRow]:
    """App rows (every column, by attribute), oldest first."""
    query = select(PartnerApp).order_by(PartnerApp.created_ts, PartnerApp.client_id)
    if client_ids is not None:
        query = query.where(PartnerApp.client_id.in_(list(client_ids)))
    if status is not None:
        query = query.where(PartnerApp.status == status)
    if owner is not None:
        query = query.where(PartnerApp.owner_user_id == owner)
    return list((await conn.execute(query)).all())


async def get_redirect_uris(
    conn: AsyncConnection, client_ids: Sequence[str]
) -> dict[str, list[str]]:
    rows = await conn.execute(
        select(PartnerRedirectURI.client_id, PartnerRedirectURI.uri)
        .where(PartnerRedirectURI.client_id.in_(list(client_ids)))
        .order_by(PartnerRedirectURI.uri)
    )
    out: dict[str, list[str]] = {}
    for client_id, uri in rows:
        out.setdefault(client_id, []).append(uri)
    return out


async def get_domains(conn: AsyncConnection, client_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = await conn.execute(
        select(PartnerDomain.client_id, PartnerDomain.domain)
        .where(PartnerDomain.client_id.in_(list(client_ids)))
        .order_by(PartnerDomain.domain)
    )
    out: dict[str, list[str]] = {}
    for client_id, domain in rows:
        out.setdefault(client_id, []).append(domain)
    return out


async def get_agreements(
    conn: AsyncConnection, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], TableRow]:
    if not keys:
        return {}
    wanted = set(keys)
    rows = await conn.execute(
        select(PartnerAgreement).where(PartnerAgreement.client_id.in_(sorted({k[0] for k in keys})))
    )
    return {(a.client_id, a.version): a for a in rows if (a.client_id, a.version) in wanted}


async def set_status(conn: AsyncConnection, client_id: str, status: str, ts: int) -> bool:
    result = await conn.execute(
        update(PartnerApp)
        .where(PartnerApp.client_id == client_id)
        .values(status=status, status_ts=ts)
    )
    return bool(result.rowcount)


async def set_agreement_version(conn: AsyncConnection, client_id: str, version: int) -> None:
    await conn.execute(
        update(PartnerApp)
        .where(PartnerApp.client_id == client_id)
        .values(agreement_version=version)
    )


async def revoke_app_tokens(conn: AsyncConnection, client_id: str, ts: int) -> int:
    """End every token of an app at once (suspension)."""
    result = await conn.execute(
        update(OAuthToken)
        .where(OAuthToken.client_id == client_id, OAuthToken.revoked_ts.is_(None))
        .values(revoked_ts=ts)
    )
    return int(result.rowcount or 0)


async def end_room_grants(conn: AsyncConnection, client_id: str, ts: int, reason: str) -> int:
    """Void every pending or live room grant of an app (suspension, a new agreement).

    Run after the app's own row was updated in the same transaction: that update waits
    for a grant being written under the app's row lock, so this one then sees it.
    """
    result = await conn.execute(
        update(RoomGrant)
        .where(RoomGrant.client_id == client_id, RoomGrant.status.in_(list(OPEN)))
        .values(status=Status.VOIDED, ended_ts=ts, ended_reason=reason)
    )
    return int(result.rowcount or 0)


async def get_agreement_version(conn: AsyncConnection, client_id: str) -> int:
    """The app's current agreement version (0 for an unknown app)."""
    version = await conn.scalar(
        select(PartnerApp.agreement_version).where(PartnerApp.client_id == client_id)
    )
    return int(version or 0)
