"""SQL for OAuth consents, authorization codes and tokens (all secrets stored as HMACs).

Races are closed by single statements, never by read-then-write: a code is spent by
`claim_code` (DELETE … RETURNING, so two exchanges of one code cannot both win) and a
refresh token by `spend_refresh` (UPDATE … WHERE refresh_used_ts IS NULL, so two
rotations of one refresh token cannot both win).
"""

from collections.abc import Sequence

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.db import TableRow, upsert
from candor.store.models.partners import OAuthCode, OAuthConsent, OAuthToken, PartnerApp


async def set_consent(conn: AsyncConnection, values: dict[str, object]) -> None:
    """Upsert the (app, person) consent (primary key closes the race of two Allows)."""
    await upsert(conn, OAuthConsent, values, ("client_id", "user_id"))


async def get_consent(conn: AsyncConnection, client_id: str, user_id: str) -> TableRow | None:
    query = select(OAuthConsent).where(
        OAuthConsent.client_id == client_id, OAuthConsent.user_id == user_id
    )
    return (await conn.execute(query)).first()


async def get_app_terms(conn: AsyncConnection, client_id: str) -> tuple[str, int] | None:
    """The app's (status, current agreement version), or None for an unknown app."""
    query = select(PartnerApp.status, PartnerApp.agreement_version).where(
        PartnerApp.client_id == client_id
    )
    row = (await conn.execute(query)).first()
    return None if row is None else (row[0], int(row[1]))


async def list_consents(conn: AsyncConnection, user_id: str) -> Sequence[TableRow]:
    """A person's live consents, newest first."""
    query = (
        select(OAuthConsent)
        .where(OAuthConsent.user_id == user_id, OAuthConsent.revoked_ts.is_(None))
        .order_by(OAuthConsent.created_ts.desc(), OAuthConsent.client_id)
    )
    return (await conn.execute(query)).all()


async def revoke_consent(conn: AsyncConnection, client_id: str, user_id: str, now: int) -> bool:
    result = await conn.execute(
        update(OAuthConsent)
        .where(
            OAuthConsent.client_id == client_id,
            OAuthConsent.user_id == user_id,
            OAuthConsent.revoked_ts.is_(None),
        )
        .values(revoked_ts=now)
    )
    return bool(result.rowcount)


async def set_consent_used(conn: AsyncConnection, client_id: str, user_id: str, now: int) -> None:
    await conn.execute(
        update(OAuthConsent)
        .where(OAuthConsent.client_id == client_id, OAuthConsent.user_id == user_id)
        .values(last_used_ts=now)
    )


async def add_code(conn: AsyncConnection, values: dict[str, object]) -> None:
    await conn.execute(insert(OAuthCode).values(**values))


async def get_code(conn: AsyncConnection, code_hash: str) -> TableRow | None:
    return (await conn.execute(select(OAuthCode).where(OAuthCode.code_hash == code_hash))).first()


async def claim_code(conn: AsyncConnection, code_hash: str) -> Row[str] | None:
    """Atomically take a code (single use): only one concurrent caller gets the row."""
    result = await conn.execute(
        delete(OAuthCode).where(OAuthCode.code_hash == code_hash).returning(OAuthCode.client_id)
    )
    return result.first()


async def add_token(conn: AsyncConnection, values: dict[str, object]) -> None:
    await conn.execute(insert(OAuthToken).values(**values))


async def get_token_by_access(conn: AsyncConnection, token_hash: str) -> TableRow | None:
    query = select(OAuthToken).where(OAuthToken.access_token_hash == token_hash)
    return (await conn.execute(query)).first()


async def get_token_by_refresh(conn: AsyncConnection, token_hash: str) -> TableRow | None:
    query = select(OAuthToken).where(OAuthToken.refresh_token_hash == token_hash)
    return (await conn.execute(query)).first()


async def spend_refresh(conn: AsyncConnection, token_id: str, now: int) -> bool:
    """Mark a refresh token rotated; False if it was already spent or revoked (a reuse)."""
    result = await conn.execute(
        update(OAuthToken)
        .where(
            OAuthToken.id == token_id,
            OAuthToken.refresh_used_ts.is_(None),
            OAuthToken.revoked_ts.is_(None),
        )
        .values(refresh_used_ts=now)
    )
    return bool(result.rowcount)


async def revoke_token(conn: AsyncConnection, token_id: str, now: int) -> None:
    await conn.execute(
        update(OAuthToken)
        .where(OAuthToken.id == token_id, OAuthToken.revoked_ts.is_(None))
        .values(revoked_ts=now)
    )


async def revoke_family(conn: AsyncConnection, family_id: str, now: int) -> None:
    await conn.execute(
        update(OAuthToken)
        .where(OAuthToken.family_id == family_id, OAuthToken.revoked_ts.is_(None))
        .values(revoked_ts=now)
    )


async def revoke_pair(conn: AsyncConnection, client_id: str, user_id: str, now: int) -> None:
    """End every token of (app, person): uses the (client_id, user_id) index."""
    await conn.execute(
        update(OAuthToken)
        .where(
            OAuthToken.client_id == client_id,
            OAuthToken.user_id == user_id,
            OAuthToken.revoked_ts.is_(None),
        )
        .values(revoked_ts=now)
    )
