"""The partner platform: apps and their public agreements, OAuth state, and room grants.

Secrets (client secrets, authorization codes, access and refresh tokens) are stored only as
their HMAC under the server's token key (DESIGN invariant 6), like Matrix access tokens.
Lists that belong to an app (redirect URIs, web domains) are rows, so that matching is exact
and an audit can read them. An agreement is never edited: a change is a new version, and
people who consented to an older version are asked again.
"""

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from candor.store.models.base import Base


class PartnerApp(Base):
    """A registered OAuth client. `status`: pending → approved ⇄ suspended."""

    __tablename__ = "partner_apps"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    homepage: Mapped[str] = mapped_column(String(2000))
    contact: Mapped[str] = mapped_column(String(320))
    client_type: Mapped[str] = mapped_column(String(16))  # "confidential" | "public"
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(Text)  # requested scopes, space-separated
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # The Standard Webhooks signing secret (whsec_…), sealed with a key derived from the
    # server's secret key: HMAC signing needs it back, so it cannot be a hash.
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    agreement_version: Mapped[int] = mapped_column(Integer)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    status_ts: Mapped[int] = mapped_column(BigInteger)  # when `status` last changed


class PartnerRedirectURI(Base):
    __tablename__ = "partner_redirect_uris"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uri: Mapped[str] = mapped_column(String(2000), primary_key=True)


class PartnerDomain(Base):
    """A web domain the app's links may point to (share cards, click redirects)."""

    __tablename__ = "partner_domains"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)


class PartnerAgreement(Base):
    """One version of an app's public data-sharing agreement."""

    __tablename__ = "partner_agreements"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(Text)
    data_used: Mapped[str] = mapped_column(Text)
    retention_days: Mapped[int] = mapped_column(Integer)
    reporting_days: Mapped[int] = mapped_column(Integer)  # the reporting period (cadence)
    privacy: Mapped[str] = mapped_column(String(32))  # "k_anonymity" | "differential_privacy"
    k_threshold: Mapped[int] = mapped_column(Integer)
    epsilon: Mapped[float | None] = mapped_column(Float)
    # Differential privacy: cards and clicks counted per person per period (C).
    contribution_bound: Mapped[int] = mapped_column(Integer, server_default="10")
    created_ts: Mapped[int] = mapped_column(BigInteger)


class OAuthConsent(Base):
    """What a person allowed an app: the scopes, under which agreement version, and when.

    One row per (app, person). Revoking sets `revoked_ts` and ends every token of the pair.
    """

    __tablename__ = "oauth_consents"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    scopes: Mapped[str] = mapped_column(Text)
    agreement_version: Mapped[int] = mapped_column(Integer)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    last_used_ts: Mapped[int | None] = mapped_column(BigInteger)  # the last read by the app
    revoked_ts: Mapped[int | None] = mapped_column(BigInteger)


class OAuthCode(Base):
    """An authorization code (RFC 6749 §4.1), single use, with its PKCE challenge."""

    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    created_ts: Mapped[int] = mapped_column(BigInteger)
    expires_ts: Mapped[int] = mapped_column(BigInteger)


class OAuthToken(Base):
    """An access token and its refresh token. `family_id` ties every token that came from
    one authorization by rotation: reusing a spent refresh token revokes the whole family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_client_user", "client_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(Text)
    issued_ts: Mapped[int] = mapped_column(BigInteger)
    expires_ts: Mapped[int] = mapped_column(BigInteger)  # of the access token
    refresh_used_ts: Mapped[int | None] = mapped_column(BigInteger)  # rotated away
    revoked_ts: Mapped[int | None] = mapped_column(BigInteger)


class RoomGrant(Base):
    """A request to let an app read one room; live only once every joined member accepted.

    `status`: pending → live → (revoked | voided | expired), or pending → declined.
    `window_from` is the first stream position the app may read: the position at which the
    grant went live, or 0 when every member ticked "include earlier history".
    `members_pos` is the room's membership position when it went live: any later
    membership event voids the grant.
    `agreement_version` is the app's agreement the members were asked under: a newer
    version (or the app's suspension) voids the grant, and members are asked again.
    """

    __tablename__ = "room_grants"
    __table_args__ = (Index("ix_room_grants_client_room", "client_id", "room_id"),)

    grant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    requested_by: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    live_ts: Mapped[int | None] = mapped_column(BigInteger)
    expires_ts: Mapped[int | None] = mapped_column(BigInteger)
    ended_ts: Mapped[int | None] = mapped_column(BigInteger)
    ended_reason: Mapped[str | None] = mapped_column(Text)
    window_from: Mapped[int | None] = mapped_column(BigInteger)
    members_pos: Mapped[int | None] = mapped_column(BigInteger)
    agreement_version: Mapped[int] = mapped_column(Integer)


class RoomGrantMember(Base):
    """One joined member's answer to a grant. `decision`: pending | accepted | declined."""

    __tablename__ = "room_grant_members"

    grant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    decision: Mapped[str] = mapped_column(String(16))
    include_history: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_ts: Mapped[int | None] = mapped_column(BigInteger)
