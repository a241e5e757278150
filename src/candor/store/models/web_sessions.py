"""Web sessions: the server-side half of a browser login, so logging out really ends it.

Only the SHA-256 of the session token is kept (like access tokens, DESIGN invariant 6): a
leaked database row cannot be replayed as a cookie. The CSRF token is derived from the
session token by HMAC, so no secret of its own is stored.
"""

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    expires_ts: Mapped[int] = mapped_column(BigInteger, index=True)
    last_seen_ts: Mapped[int | None] = mapped_column(BigInteger)
