"""The OAuth code and token store: consents, single-use codes, rotating token families.

Every secret (code, access token, refresh token) is stored as its HMAC under the server's
token key. A code's hash is also the `family_id` of every token that descends from it by
rotation, so a replayed code or a reused refresh token can end the whole family (RFC 6749
§4.1.2, RFC 9700 §4.14.2). Only `approved` apps get codes or tokens, and a token works
only while its app is approved and the person's consent stands. The protocol itself
(parameters, PKCE, client authentication, error responses) is authlib's, in `server.py`;
this module is what authlib's callbacks reach. What a token is good for afterwards (the
partner API's bearer authentication and the profile read) is `bearer.py`'s, and the
person's list of connected apps is `connected.py`'s.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.clock import Clock
from candor.core.tokens import hash_token, is_well_formed, new_token, random_string
from candor.partners.apps.service import APPROVED, App, PartnerAppsService
from candor.partners.oauth import repository as repo
from candor.store.db import Database

ACCESS_PREFIX = "cdr_at_"
REFRESH_PREFIX = "cdr_rt_"
CODE_PREFIX = "cdr_ac_"
ACCESS_TOKEN_TTL_S = 3600
CODE_TTL_MS = 5 * 60 * 1000  # RFC 6749 §4.1.2: "a maximum … of 10 minutes is RECOMMENDED"
PROFILE_SCOPE = "profile"
REQUIRED_SCOPES = frozenset({PROFILE_SCOPE})


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code_hash: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One row of oauth_tokens as seen through one of its two secrets (`kind`)."""

    id: str
    kind: str  # "access_token" | "refresh_token"
    family_id: str
    client_id: str
    user_id: str
    scope: str
    issued_ts: int
    expires_ts: int
    refresh_used_ts: int | None
    revoked_ts: int | None
    seen_ts: int  # when it was read: expiry is judged against this instant


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int


def granted_scopes(requested: Sequence[str], ticked: Sequence[str]) -> list[str]:
    """What a person allows: the required scopes they were asked for, plus the ticked ones.

    Ticks for scopes that were not requested are ignored, so a crafted form cannot widen
    the grant beyond the app's request.
    """
    return [s for s in requested if s in REQUIRED_SCOPES or s in ticked]


def consent_current(
    consent: Row[Any] | None,  # Any: a store row
    app_terms: tuple[str, int] | None,
) -> bool:
    """The person's consent stands, for the app's current agreement, and the app is
    approved. After a new agreement version, the app's tokens stop working until the
    person consents again (the issue: a material change asks everyone again)."""
    return (
        consent is not None
        and consent.revoked_ts is None
        and app_terms is not None
        and app_terms[0] == APPROVED
        and consent.agreement_version == app_terms[1]
    )


async def consent_current_on(conn: AsyncConnection, client_id: str, user_id: str) -> bool:
    """`consent_current` for (app, person), read on the caller's connection."""
    consent = await repo.get_consent(conn, client_id, user_id)
    return consent_current(consent, await repo.get_app_terms(conn, client_id))


class OAuthService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        token_key: bytes,
        apps: PartnerAppsService,
        issuer: str,
    ) -> None:
        """`issuer` is the configured public base URL, never a request's Host header: a
        client that sends another Host must not change what metadata or introspection say."""
        self._db = db
        self._clock = clock
        self._key = token_key
        self.apps = apps
        self.issuer = issuer

    def _hash(self, secret: str) -> str:
        return hash_token(secret, self._key)

    # --- clients -----------------------------------------------------------------------

    async def find_app(self, client_id: str) -> App | None:
        """An app that may take part in OAuth right now: only approved apps exist here."""
        app = await self.apps.find(client_id)
        return app if app is not None and app.status == APPROVED else None

    async def check_secret(self, app: App, secret: str) -> bool:
        return await self.apps.check_secret(app, secret)

    # --- consent and codes -------------------------------------------------------------

    async def has_consent(self, app: App, user_id: str, scopes: Sequence[str]) -> bool:
        """True if the person already allowed these scopes under the current agreement.

        A consent to an older agreement version does not count: the person is asked again.
        """
        async with self._db.read() as conn:
            row = await repo.get_consent(conn, app.client_id, user_id)
        return (
            row is not None
            and row.revoked_ts is None
            and row.agreement_version == app.agreement.version
            and set(scopes) <= set(row.scopes.split())
        )

    async def save_code(
        self,
        app: App,
        user_id: str,
        code: str,
        *,
        redirect_uri: str,
        scope: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> None:
        """Record the person's consent (scopes + agreement version) and the code, together."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            old = await repo.get_consent(conn, app.client_id, user_id)
            await repo.set_consent(
                conn,
                {
                    "client_id": app.client_id,
                    "user_id": user_id,
                    "scopes": scope,
                    "agreement_version": app.agreement.version,
                    "created_ts": now,
                    "last_used_ts": None if old is None else old.last_used_ts,
                    "revoked_ts": None,
                },
            )
            await repo.add_code(
                conn,
                {
                    "code_hash": self._hash(code),
                    "client_id": app.client_id,
                    "user_id": user_id,
                    "redirect_uri": redirect_uri,
                    "scope": scope,
                    "code_challenge": code_challenge,
                    "code_challenge_method": code_challenge_method,
                    "created_ts": now,
                    "expires_ts": now + CODE_TTL_MS,
                },
            )

    async def find_code(self, code: str, client_id: str) -> CodeRecord | None:
        """The live code issued to `client_id`, or None.

        A well-formed code that no longer exists was spent already: replaying it ends
        every token issued from it (RFC 6749 §4.1.2 "SHOULD revoke").
        """
        if not is_well_formed(code, CODE_PREFIX):
            return None
        code_hash = self._hash(code)
        async with self._db.read() as conn:
            row = await repo.get_code(conn, code_hash)
        if row is None:
            async with self._db.write() as conn:
                await repo.revoke_family(conn, code_hash, self._clock.now_ms())
            return None
        if row.client_id != client_id or row.expires_ts <= self._clock.now_ms():
            return None
        return CodeRecord(
            row.code_hash,
            row.client_id,
            row.user_id,
            row.redirect_uri,
            row.scope,
            row.code_challenge,
            row.code_challenge_method,
        )

    # --- tokens ------------------------------------------------------------------------

    def new_code(self) -> str:
        return new_token(CODE_PREFIX)

    def new_tokens(self, scope: str) -> IssuedToken:
        return IssuedToken(
            new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX), scope, ACCESS_TOKEN_TTL_S
        )

    def _token_row(
        self, issued: IssuedToken, family_id: str, client_id: str, user_id: str, now: int
    ) -> dict[str, object]:
        return {
            "id": random_string(16),
            "access_token_hash": self._hash(issued.access_token),
            "refresh_token_hash": None
            if issued.refresh_token is None
            else self._hash(issued.refresh_token),
            "family_id": family_id,
            "client_id": client_id,
            "user_id": user_id,
            "scope": issued.scope,
            "issued_ts": now,
            "expires_ts": now + issued.expires_in * 1000,
            "refresh_used_ts": None,
            "revoked_ts": None,
        }

    async def exchange_code(self, code: CodeRecord, issued: IssuedToken) -> bool:
        """Spend the code and store the first tokens of its family; False if it was spent
        meanwhile or the person revoked their consent since."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            if await repo.claim_code(conn, code.code_hash) is None:
                return False
            consent = await repo.get_consent(conn, code.client_id, code.user_id)
            if consent is None or consent.revoked_ts is not None:
                return False
            await repo.add_token(
                conn, self._token_row(issued, code.code_hash, code.client_id, code.user_id, now)
            )
        return True

    async def find_refresh(self, refresh_token: str) -> TokenRecord | None:
        """The live token row behind a refresh token, or None.

        Presenting a refresh token that was already rotated away is the mark of a stolen
        token (RFC 9700 §4.14.2): the whole family ends, the legitimate holder's tokens too.
        """
        record = await self.find_token(refresh_token, "refresh_token")
        if record is None or record.revoked_ts is not None:
            return None
        if record.refresh_used_ts is not None:
            await self.revoke_family(record.family_id)
            return None
        if not await self._consent_current(record):
            return None
        return record

    async def _consent_current(self, record: TokenRecord) -> bool:
        """`consent_current` for a token's (app, person), read in one transaction."""
        async with self._db.read() as conn:
            return await consent_current_on(conn, record.client_id, record.user_id)

    async def rotate(self, old: TokenRecord, issued: IssuedToken) -> bool:
        """Spend `old`'s refresh token and add its successor in the same family.

        False if another request spent it first (a concurrent reuse): the family ends.
        """
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            if not await repo.spend_refresh(conn, old.id, now):
                await repo.revoke_family(conn, old.family_id, now)
                return False
            await repo.add_token(
                conn, self._token_row(issued, old.family_id, old.client_id, old.user_id, now)
            )
        return True

    async def find_token(self, token: str, hint: str | None = None) -> TokenRecord | None:
        """Look a token up by its kind prefix (a hint, RFC 7009 §2.1, is only a hint)."""
        del hint
        if is_well_formed(token, ACCESS_PREFIX):
            kind, lookup = "access_token", repo.get_token_by_access
        elif is_well_formed(token, REFRESH_PREFIX):
            kind, lookup = "refresh_token", repo.get_token_by_refresh
        else:
            return None
        async with self._db.read() as conn:
            row = await lookup(conn, self._hash(token))
        return None if row is None else self._record(row, kind)

    def _record(self, row: Any, kind: str) -> TokenRecord:  # Any: a store row
        return TokenRecord(
            row.id,
            kind,
            row.family_id,
            row.client_id,
            row.user_id,
            row.scope,
            row.issued_ts,
            row.expires_ts,
            row.refresh_used_ts,
            row.revoked_ts,
            self._clock.now_ms(),
        )

    async def revoke(self, record: TokenRecord) -> None:
        """RFC 7009: a refresh token ends its whole family (every access token of the
        grant, §2.1 "SHOULD"); an access token ends its own row."""
        if record.kind == "refresh_token":
            await self.revoke_family(record.family_id)
            return
        async with self._db.write() as conn:
            await repo.revoke_token(conn, record.id, self._clock.now_ms())

    async def revoke_family(self, family_id: str) -> None:
        async with self._db.write() as conn:
            await repo.revoke_family(conn, family_id, self._clock.now_ms())
