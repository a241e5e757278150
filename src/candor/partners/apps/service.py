"""Partner apps: registration, approval and suspension, and their public agreements.

An app starts `pending` and gets no token until an administrator approves it; suspending
it ends all its tokens and room grants in the same transaction (approving it again revives
neither). Its agreement is public from the moment it is approved (`/partners`); a new
version of the agreement is a material change, so everyone who consented to an older one
is asked again before the app gets a new token, and every room grant given under an older
version ends (each room's members are asked again).
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from candor.core.clock import Clock
from candor.core.tokens import hash_token, is_well_formed, new_token, random_string
from candor.core.urls import UrlRefused, check_webhook_url
from candor.partners.apps import repository as repo
from candor.partners.apps.rules import (
    CLIENT_TYPES,
    MAX_DOMAINS,
    MAX_URIS,
    AgreementTerms,
    check_agreement,
    check_domain,
    check_homepage,
    check_redirect_uri,
    check_scopes,
    check_text,
)
from candor.partners.consent.rules import APP_SUSPENDED, new_agreement
from candor.partners.errors import PartnerError, forbidden, invalid, not_found
from candor.store.db import Database

SECRET_PREFIX = "cdr_cs_"  # noqa: S105 - a token kind prefix, not a secret
PENDING, APPROVED, SUSPENDED = "pending", "approved", "suspended"


@dataclass(frozen=True, slots=True)
class Agreement:
    version: int
    purpose: str
    data_used: str
    retention_days: int
    reporting_days: int
    privacy: str
    k_threshold: int
    epsilon: float | None
    contribution_bound: int
    created_ts: int

    def revised(
        self,
        purpose: str,
        data_used: str,
        retention_days: int | None = None,
        reporting_days: int | None = None,
    ) -> AgreementTerms:
        """Terms for the next version: the words change, the privacy method stays."""
        return AgreementTerms(
            purpose=purpose,
            data_used=data_used,
            retention_days=self.retention_days if retention_days is None else retention_days,
            reporting_days=self.reporting_days if reporting_days is None else reporting_days,
            privacy=self.privacy,
            k_threshold=self.k_threshold,
            epsilon=self.epsilon,
            contribution_bound=self.contribution_bound,
        )


@dataclass(frozen=True, slots=True)
class App:
    client_id: str
    name: str
    homepage: str
    contact: str
    client_type: str
    scopes: tuple[str, ...]
    status: str
    owner_user_id: str | None
    redirect_uris: tuple[str, ...]
    domains: tuple[str, ...]
    agreement: Agreement
    webhook_url: str | None
    created_ts: int

    @property
    def is_public_client(self) -> bool:
        return self.client_type == "public"


@dataclass(frozen=True, slots=True)
class NewApp:
    app: App
    client_secret: str | None  # shown once; only its HMAC is stored


class PartnerAppsService:
    def __init__(
        self, *, db: Database, clock: Clock, token_key: bytes, allow_private_webhooks: bool
    ) -> None:
        self._db = db
        self._clock = clock
        self._token_key = token_key
        self._allow_private_webhooks = allow_private_webhooks

    async def create(
        self,
        *,
        name: str,
        homepage: str,
        contact: str,
        redirect_uris: Sequence[str],
        domains: Sequence[str],
        scopes: str | Sequence[str],
        public: bool,
        terms: AgreementTerms,
        owner: str | None,
        webhook_url: str | None = None,
    ) -> NewApp:
        """Register an app (pending). Every field is checked before anything is written."""
        name = check_text("name", name, max_len=200)
        homepage = check_homepage(check_text("homepage", homepage, max_len=2000))
        contact = check_text("contact", contact, max_len=320)
        uris = sorted({check_redirect_uri(u) for u in redirect_uris})
        if not 1 <= len(uris) <= MAX_URIS:
            raise invalid(f"Register 1 to {MAX_URIS} redirect URIs")
        names = sorted({check_domain(d) for d in domains})
        if len(names) > MAX_DOMAINS:
            raise invalid(f"Register at most {MAX_DOMAINS} domains")
        scope_list = check_scopes(list(scopes) if not isinstance(scopes, str) else scopes)
        terms = check_agreement(terms)
        if webhook_url is not None:
            try:
                webhook_url = check_webhook_url(
                    webhook_url, allow_private_networks=self._allow_private_webhooks
                ).href
            except UrlRefused as exc:
                raise invalid(exc.message[0].upper() + exc.message[1:]) from None
        client_type = CLIENT_TYPES[1] if public else CLIENT_TYPES[0]
        secret = None if public else new_token(SECRET_PREFIX)
        client_id = "app_" + random_string(12)
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await repo.add_app(
                conn,
                {
                    "client_id": client_id,
                    "name": name,
                    "homepage": homepage,
                    "contact": contact,
                    "client_type": client_type,
                    "client_secret_hash": None
                    if secret is None
                    else hash_token(secret, self._token_key),
                    "scopes": " ".join(scope_list),
                    "status": PENDING,
                    "owner_user_id": owner,
                    "webhook_url": webhook_url,
                    "agreement_version": 1,
                    "created_ts": now,
                    "status_ts": now,
                },
            )
            await repo.add_redirect_uris(conn, client_id, uris)
            await repo.add_domains(conn, client_id, names)
            await repo.add_agreement(conn, _agreement_row(client_id, 1, terms, now))
        return NewApp(await self.get(client_id), secret)

    async def get(self, client_id: str) -> App:
        found = await self._load([client_id])
        if not found:
            raise not_found()
        return found[0]

    async def get_owned(self, client_id: str, owner: str) -> App:
        """The app, if `owner` owns it: 404 for an unknown app, 403 for anyone else."""
        app = await self.get(client_id)
        if app.owner_user_id != owner:
            raise forbidden("Only the app's owner can change it")
        return app

    async def find(self, client_id: str) -> App | None:
        found = await self._load([client_id])
        return found[0] if found else None

    async def find_many(self, client_ids: Sequence[str]) -> dict[str, App]:
        """The apps with these ids that exist, in one read (a page names many at once)."""
        if not client_ids:
            return {}
        return {a.client_id: a for a in await self._load(sorted(set(client_ids)))}

    async def list_approved(self) -> list[App]:
        return await self._load(None, status=APPROVED)

    async def list_all(self) -> list[App]:
        return await self._load(None)

    async def list_owned(self, user_id: str) -> list[App]:
        return await self._load(None, owner=user_id)

    async def check_secret(self, app: App, secret: str) -> bool:
        """Constant-time check of a confidential client's secret."""
        stored = await self._secret_hash(app.client_id)
        if stored is None or not is_well_formed(secret, SECRET_PREFIX):
            return False
        return secrets.compare_digest(stored, hash_token(secret, self._token_key))

    async def approve(self, client_id: str) -> App:
        await self.get(client_id)
        async with self._db.write() as conn:
            await repo.set_status(conn, client_id, APPROVED, self._clock.now_ms())
        return await self.get(client_id)

    async def suspend(self, client_id: str) -> App:
        """Suspend an app: every one of its tokens and room grants ends in the same transaction.

        The grants are ended for good, not paused: re-approval must not let the app read
        rooms again on consents given before the operator found reason to stop it.
        """
        await self.get(client_id)
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await repo.set_status(conn, client_id, SUSPENDED, now)
            await repo.revoke_app_tokens(conn, client_id, now)
            await repo.end_room_grants(conn, client_id, now, APP_SUSPENDED)
        return await self.get(client_id)

    async def new_agreement(
        self, client_id: str, terms: AgreementTerms, *, owner: str | None = None
    ) -> App:
        """Publish a new agreement version; consents to older versions must be renewed.

        Live and pending room grants end in the same transaction (rather than going back to
        pending): a new request then tells the room, as the first one did.

        With `owner` (the portal), only the app's owner may publish (403 otherwise); the
        operator's CLI passes none. Both checks come before anything is written.
        """
        await (self.get(client_id) if owner is None else self.get_owned(client_id, owner))
        terms = check_agreement(terms)
        try:
            async with self._db.write() as conn:
                # The next number is read in the writing transaction: two publishes at once
                # then collide on the (app, version) key instead of one overwriting the other.
                version = await repo.get_agreement_version(conn, client_id) + 1
                now = self._clock.now_ms()
                await repo.add_agreement(conn, _agreement_row(client_id, version, terms, now))
                await repo.set_agreement_version(conn, client_id, version)
                # Room grants were given under the old terms: they end, and each room's
                # members are asked again (a grant is consent to one version).
                await repo.end_room_grants(conn, client_id, now, new_agreement(version))
        except IntegrityError:
            raise PartnerError(
                409, "CANDOR_CONFLICT", "Another version was published at the same moment"
            ) from None
        return await self.get(client_id)

    async def _secret_hash(self, client_id: str) -> str | None:
        async with self._db.read() as conn:
            rows = await repo.get_apps(conn, [client_id])
        return rows[0].client_secret_hash if rows else None

    async def _load(
        self,
        client_ids: Sequence[str] | None,
        *,
        status: str | None = None,
        owner: str | None = None,
    ) -> list[App]:
        async with self._db.read() as conn:
            rows = await repo.get_apps(conn, client_ids, status=status, owner=owner)
            ids = [r.client_id for r in rows]
            if not ids:
                return []
            uris = await repo.get_redirect_uris(conn, ids)
            domains = await repo.get_domains(conn, ids)
            agreements = await repo.get_agreements(
                conn, [(r.client_id, r.agreement_version) for r in rows]
            )
        out = []
        for r in rows:
            a = agreements[(r.client_id, r.agreement_version)]
            out.append(
                App(
                    client_id=r.client_id,
                    name=r.name,
                    homepage=r.homepage,
                    contact=r.contact,
                    client_type=r.client_type,
                    scopes=tuple(r.scopes.split()),
                    status=r.status,
                    owner_user_id=r.owner_user_id,
                    redirect_uris=tuple(uris.get(r.client_id, ())),
                    domains=tuple(domains.get(r.client_id, ())),
                    agreement=Agreement(
                        a.version,
                        a.purpose,
                        a.data_used,
                        a.retention_days,
                        a.reporting_days,
                        a.privacy,
                        a.k_threshold,
                        a.epsilon,
                        a.contribution_bound,
                        a.created_ts,
                    ),
                    webhook_url=r.webhook_url,
                    created_ts=r.created_ts,
                )
            )
        return out


def _agreement_row(
    client_id: str, version: int, terms: AgreementTerms, now: int
) -> dict[str, object]:
    return {
        "client_id": client_id,
        "version": version,
        "purpose": terms.purpose,
        "data_used": terms.data_used,
        "retention_days": terms.retention_days,
        "reporting_days": terms.reporting_days,
        "privacy": terms.privacy,
        "k_threshold": terms.k_threshold,
        "epsilon": terms.epsilon,
        "contribution_bound": terms.contribution_bound,
        "created_ts": now,
    }
