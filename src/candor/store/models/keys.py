"""End-to-end encryption keys, device-list changes, to-device messages and key backups.

The server stores key objects exactly as the clients signed them (canonical JSON), never
interprets them beyond what the spec defines, and never holds a private key or plaintext.
"""

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class DeviceKeys(Base):
    """A device's identity keys (`/keys/upload` `device_keys`), as signed by the device."""

    __tablename__ = "device_keys"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_json: Mapped[str] = mapped_column(Text)


class OneTimeKey(Base):
    """One row per unclaimed one-time key. The primary key refuses a duplicate key id;
    a claim is an atomic DELETE … RETURNING, so no key is ever handed out twice."""

    __tablename__ = "one_time_keys"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_json: Mapped[str] = mapped_column(Text)


class FallbackKey(Base):
    """The device's current fallback key per algorithm; `used` once claimed."""

    __tablename__ = "fallback_keys"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(255))
    key_json: Mapped[str] = mapped_column(Text)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class CrossSigningKey(Base):
    """master / self_signing / user_signing key of a user, as uploaded."""

    __tablename__ = "cross_signing_keys"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_json: Mapped[str] = mapped_column(Text)


class KeySignature(Base):
    """A signature uploaded through `/keys/signatures/upload`, merged into `/keys/query`.

    `target_key_id` is a device id or the public part of a cross-signing key.
    """

    __tablename__ = "key_signatures"

    target_user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    target_key_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    signer_user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    signer_key_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(Text)


class DeviceListChange(Base):
    """A user's devices or keys changed at `stream_pos` (a position of the one counter)."""

    __tablename__ = "device_list_changes"
    __table_args__ = (Index("ix_device_list_changes_user", "user_id", "stream_pos"),)

    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)


class ToDeviceMessage(Base):
    """A message waiting for one device, deleted once that device's next /sync acknowledges
    it. A `"*"` send writes one row per device, all at the same stream position."""

    __tablename__ = "to_device_messages"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    stream_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sender: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)


class ToDeviceTxn(Base):
    """The primary key makes `/sendToDevice` idempotent per (sender, device, txn id)."""

    __tablename__ = "to_device_txns"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)


class RoomKeyBackupVersion(Base):
    """A server-side key backup version; `auth_data` is opaque client JSON."""

    __tablename__ = "room_key_backup_versions"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    algorithm: Mapped[str] = mapped_column(String(255))
    auth_data: Mapped[str] = mapped_column(Text)
    etag: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class RoomKeyBackup(Base):
    """One backed-up Megolm session; `session_data` is the client's encrypted blob."""

    __tablename__ = "room_key_backups"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_message_index: Mapped[int] = mapped_column(BigInteger)
    forwarded_count: Mapped[int] = mapped_column(BigInteger)
    is_verified: Mapped[bool] = mapped_column(Boolean)
    session_data: Mapped[str] = mapped_column(Text)
