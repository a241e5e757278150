"""Accounts: users, devices, hashed access tokens, filters and account data."""

from sqlalchemy import BigInteger, Boolean, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    displayname: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)


class Device(Base):
    __tablename__ = "devices"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    last_seen_ts: Mapped[int | None] = mapped_column(BigInteger)


class AccessToken(Base):
    """Only the HMAC of a token is kept (DESIGN invariant 6)."""

    __tablename__ = "access_tokens"
    __table_args__ = (Index("ix_access_tokens_user_device", "user_id", "device_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[str] = mapped_column(String(255))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    # Set when the token came with a refresh token: it answers M_UNKNOWN_TOKEN with
    # soft_logout from then on. NULL: it lives until logout.
    expires_ts: Mapped[int | None] = mapped_column(BigInteger)
    # The refresh token this one's refresh replaced: revoked when this token is first used.
    retires: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """The HMAC of a refresh token (`POST /refresh`), one chain link per rotation.

    `access_hash` is the access token issued with it; `replaces` the refresh token it
    rotated out (still valid until this pair is used); `next_hash` the refresh token issued
    when it was used (dropped if it is used again before that pair is).
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_device", "user_id", "device_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    device_id: Mapped[str] = mapped_column(String(255))
    access_hash: Mapped[str] = mapped_column(String(64))
    replaces: Mapped[str | None] = mapped_column(String(64))
    next_hash: Mapped[str | None] = mapped_column(String(64))
    created_ts: Mapped[int] = mapped_column(BigInteger)


class ShortLivedToken(Base):
    """The HMAC of a single-use login token (`kind` 'login', `POST /login/get_token`) or
    an OpenID token (`kind` 'openid', `POST /user/{id}/openid/request_token`)."""

    __tablename__ = "short_lived_tokens"
    __table_args__ = (Index("ix_short_lived_tokens_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(255))
    expires_ts: Mapped[int] = mapped_column(BigInteger)


class ProfileField(Base):
    """An extended profile field (spec v1.16): `m.tz` or a namespaced custom key, its
    value canonical JSON. `displayname` and `avatar_url` stay on `users`."""

    __tablename__ = "profile_fields"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Filter(Base):
    __tablename__ = "filters"

    filter_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    filter_json: Mapped[str] = mapped_column(Text)


class AccountData(Base):
    """Per-user (room_id '') and per-room account data; `stream_pos` orders it for /sync."""

    __tablename__ = "account_data"
    __table_args__ = (Index("ix_account_data_user_pos", "user_id", "stream_pos"),)

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    stream_pos: Mapped[int] = mapped_column(BigInteger)


# Byte order on PostgreSQL too, so a prefix is one index range (`term >= p AND term < p+max`)
# whatever the database's locale; SQLite compares bytes already.
SearchTermType = String(255).with_variant(String(255, collation="C"), "postgresql")


class UserSearchTerm(Base):
    """What people search a user by (POST /user_directory/search), one row per term.

    A profile's terms are its lower-cased display name, the same from each later word on
    ("ann lee" → "ann lee", "lee"), its localpart and its user id, so both a word prefix
    and a name prefix are one range scan of the primary key. Written with the profile.
    """

    __tablename__ = "user_search_terms"
    __table_args__ = (Index("ix_user_search_terms_user_id", "user_id"),)

    term: Mapped[str] = mapped_column(SearchTermType, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # 0: the whole display name, 1: the display name from a later word on, 2: the user id
    # or its localpart (`matrix/accounts/search_terms.py`).
    kind: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
