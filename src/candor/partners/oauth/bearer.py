"""The partner API's side of OAuth: who a bearer token speaks for, and the profile read.

Why apart from the token store (`service.py`): that module is what authlib's callbacks
reach while tokens are issued; this one is what every partner API request goes through
afterwards, on its hot path. A bearer token is judged from one read transaction (the
token, the person's consent and the app together), so a suspension, a revoked consent or
a new agreement version between those reads cannot let a request through half-checked.
"""

from dataclasses import dataclass

from candor.core.clock import Clock
from candor.core.tokens import hash_token, is_well_formed
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.accounts.service import AccountsService
from candor.matrix.errors import LimitExceeded, MatrixError
from candor.matrix.ratelimit import RateLimiter
from candor.partners.errors import PartnerError
from candor.partners.oauth import repository as repo
from candor.partners.oauth.service import ACCESS_PREFIX, consent_current_on
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.records import AccessAction, ActorKind

ACTION_READ_PROFILE = AccessAction.PARTNER_READ_PROFILE


def unknown_token() -> PartnerError:
    return PartnerError(401, "CANDOR_UNKNOWN_TOKEN", "Unknown, expired or revoked access token")


@dataclass(frozen=True, slots=True)
class PartnerToken:
    """Who a valid bearer token speaks for: the app, the person and the granted scopes."""

    client_id: str
    user_id: str
    scopes: frozenset[str]
    token_id: str


class BearerService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        token_key: bytes,
        accounts: AccountsService,
        access: AccessLog,
        ratelimiter: RateLimiter,
    ) -> None:
        self._db = db
        self._clock = clock
        self._key = token_key
        self._accounts = accounts
        self._access = access
        self._ratelimiter = ratelimiter

    async def authenticate_bearer(self, token: str) -> PartnerToken:
        """The app and person a bearer token speaks for, or 401 CANDOR_UNKNOWN_TOKEN.

        Refused alike (so nothing leaks): malformed, unknown, expired or revoked tokens,
        tokens of an app that is not approved now, and tokens whose consent was revoked
        or given to an older version of the app's agreement.
        """
        if not is_well_formed(token, ACCESS_PREFIX):
            raise unknown_token()
        # One read: the token, the person's consent and the app, from one transaction.
        async with self._db.read() as conn:
            row = await repo.get_token_by_access(conn, hash_token(token, self._key))
            current = row is not None and await consent_current_on(conn, row.client_id, row.user_id)
            locked = row is not None and await accounts_facts.is_locked(conn, row.user_id)
        if (
            row is None
            or row.revoked_ts is not None
            or row.expires_ts <= self._clock.now_ms()
            or not current
        ):
            raise unknown_token()
        if locked:
            # An administrator's lock stops the account entirely, apps acting for it
            # included; the tokens stay, and work again once it is unlocked.
            raise PartnerError(403, "CANDOR_USER_LOCKED", "The person's account is locked")
        return PartnerToken(row.client_id, row.user_id, frozenset(row.scope.split()), row.id)

    async def authenticate(self, token: str, scope: str) -> PartnerToken:
        """A bearer token that carries `scope`, within its app's rate limit.

        401 CANDOR_UNKNOWN_TOKEN, 403 CANDOR_INSUFFICIENT_SCOPE, and 429
        CANDOR_LIMIT_EXCEEDED past the app's rate limit (one bucket per app, whoever the
        person: a partner cannot multiply its quota by its number of users).
        """
        found = await self.authenticate_bearer(token)
        if scope not in found.scopes:
            raise PartnerError(
                403, "CANDOR_INSUFFICIENT_SCOPE", f"This token lacks the {scope!r} scope"
            )
        try:
            await self._ratelimiter.check(f"partner:{found.client_id}")
        except LimitExceeded as exc:
            limited = PartnerError(429, "CANDOR_LIMIT_EXCEEDED", "Too many requests")
            limited.headers = dict(exc.headers)
            raise limited from None
        return found

    async def note_use(self, client_id: str, user_id: str) -> None:
        """Remember when the app last read the person's data (the Connected apps page)."""
        async with self._db.write() as conn:
            await repo.set_consent_used(conn, client_id, user_id, self._clock.now_ms())

    async def profile(self, token: PartnerToken) -> dict[str, str | None]:
        """`profile` scope: the person's user id and display name.

        A partner app reading a person's data, so it is recorded in the transparency log
        first, like every partner read (DESIGN invariant 2); if the log cannot take the
        record, the answer is 503 and nothing.
        """
        try:
            found = await self._accounts.get_profile(token.user_id)
        except MatrixError:  # deactivated since the token was issued
            raise unknown_token() from None
        name = found.get("displayname")
        await self._access.record_or_refuse(
            actor_kind=ActorKind.PARTNER_APP,
            actor_id=token.client_id,
            basis=f"consent to scope profile (token {token.token_id})",
            subjects=[token.user_id],
            resource={"profile": ["user_id", "displayname"]},
            action=ACTION_READ_PROFILE,
        )
        await self.note_use(token.client_id, token.user_id)
        return {"user_id": token.user_id, "displayname": name if isinstance(name, str) else None}
