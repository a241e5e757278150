"""Accounts: users, devices, hashed access tokens, filters and account data."""

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
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
