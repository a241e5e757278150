"""SQL for web sessions: rows keyed by the hash of the session token, never the token."""

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.store.models.accounts import User
from candor.store.models.moderation import AccountRestriction
from candor.store.models.web_sessions import WebSession


@dataclass(frozen=True, slots=True)
class WebSessionRow:
    user_id: str
    is_admin: bool
    expires_ts: int
    last_seen_ts: int | None


async def add_web_session(
    conn: AsyncConnection, token_hash: str, user_id: str, *, created_ts: int, expires_ts: int
) -> None:
    await conn.execute(
        insert(WebSession).values(
            token_hash=token_hash,
            user_id=user_id,
            created_ts=created_ts,
            expires_ts=expires_ts,
            last_seen_ts=created_ts,
        )
    )


async def get_web_session(
    conn: AsyncConnection, token_hash: str, *, now_ts: int
) -> WebSessionRow | None:
    """The live session with this hash: not expired, and its account neither deactivated
    nor locked (a lock ends the web pages too, at once, on every worker)."""
    row = (
        await conn.execute(
            select(
                WebSession.user_id, User.is_admin, WebSession.expires_ts, WebSession.last_seen_ts
            )
            .join(User, User.user_id == WebSession.user_id)
            .outerjoin(AccountRestriction, AccountRestriction.user_id == WebSession.user_id)
            .where(
                WebSession.token_hash == token_hash,
                WebSession.expires_ts > now_ts,
                User.deactivated.is_(False),
                or_(AccountRestriction.locked.is_(None), AccountRestriction.locked.is_(False)),
            )
        )
    ).first()
    if row is None:
        return None
    return WebSessionRow(row[0], bool(row[1]), int(row[2]), row[3])


async def set_web_session_last_seen(conn: AsyncConnection, token_hash: str, ts: int) -> None:
    await conn.execute(
        update(WebSession).where(WebSession.token_hash == token_hash).values(last_seen_ts=ts)
    )


async def delete_web_session(conn: AsyncConnection, token_hash: str) -> bool:
    result = await conn.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
    return bool(result.rowcount)


async def delete_expired_web_sessions(conn: AsyncConnection, now_ts: int) -> int:
    """Drop sessions past their expiry (indexed on expires_ts, so cheap to run at login)."""
    result = await conn.execute(delete(WebSession).where(WebSession.expires_ts <= now_ts))
    return int(result.rowcount)


async def count_web_sessions(conn: AsyncConnection, user_id: str) -> int:
    query = select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())
