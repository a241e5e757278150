"""Composition root: every long-lived part of Candor is built here, once, from Settings.

Why one place: a service's constructor names the collaborators it uses, so a reader sees its
world in its signature and a test builds exactly what it needs; only this module knows how
the whole is put together. It imports no router and no FastAPI, so the CLI can build the few
parts a command uses (the database, the clock, a service or two) without paying for the
web stack (`candor --help` stays fast; see docs/architecture.md).
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields

from candor.config import Settings
from candor.core.clock import Clock, SystemClock
from candor.core.outbound import Resolver, system_resolve
from candor.matrix.accounts.authenticator import Authenticator
from candor.matrix.accounts.passwords import Passwords
from candor.matrix.accounts.profile import ProfileService
from candor.matrix.accounts.refresh import RefreshService
from candor.matrix.accounts.service import AccountsService
from candor.matrix.accounts.tags import TagsService
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.accounts.tokens import TokensService
from candor.matrix.admin.service import AdminService
from candor.matrix.client.discovery import Discovery
from candor.matrix.client.voip import TurnService
from candor.matrix.context import Homeserver
from candor.matrix.deactivation.service import DeactivationService
from candor.matrix.devices.service import DevicesService
from candor.matrix.events.persister import AppendObserver, EventPersister
from candor.matrix.events.service import EventsService
from candor.matrix.keys.service import KeysService
from candor.matrix.login_backoff import LoginBackoff, shared_backoff
from candor.matrix.media.preview import UrlPreviewService
from candor.matrix.media.service import MediaService
from candor.matrix.media.storage import MediaStore
from candor.matrix.moderation.service import ModerationService
from candor.matrix.presence.service import PresenceService
from candor.matrix.presence.stream import PresenceStream
from candor.matrix.privacy.service import PrivacyService
from candor.matrix.push.gateway import PushGatewayWorker, PushRetry
from candor.matrix.push.notifications import NotificationsService
from candor.matrix.push.pushers import PushersService
from candor.matrix.push.recorder import NotificationRecorder
from candor.matrix.push.service import PushRulesService
from candor.matrix.ratelimit import RateLimiter, shared_limits
from candor.matrix.relations.indexer import RelationsIndexer
from candor.matrix.relations.service import RelationsService
from candor.matrix.room_keys.service import RoomKeysService
from candor.matrix.rooms.aliases import RoomAliasesService
from candor.matrix.rooms.directory import RoomDirectoryService
from candor.matrix.rooms.reads import RoomReadsService
from candor.matrix.rooms.receipts import ReceiptsService
from candor.matrix.rooms.service import RoomsService
from candor.matrix.search.indexer import SearchIndexer
from candor.matrix.search.service import SearchService
from candor.matrix.sync.cluster import ClusterNotifier
from candor.matrix.sync.history import HistoryService
from candor.matrix.sync.messages import MessagesService
from candor.matrix.sync.notifier import Notifier
from candor.matrix.sync.service import SyncService
from candor.matrix.sync.streams import EphemeralStream, RoomsStream
from candor.matrix.sync.typing import TypingTracker
from candor.matrix.to_device.service import ToDeviceService
from candor.matrix.user_directory.service import UserDirectoryService
from candor.matrix.web_sessions.service import WebSessionsService
from candor.partners.admin.service import PartnerAdminService
from candor.partners.apps.service import PartnerAppsService
from candor.partners.consent.notice import GRANTS_PAGE
from candor.partners.consent.observer import GrantObserver
from candor.partners.consent.service import ConsentService
from candor.partners.deactivation import PartnerAccessEnder
from candor.partners.inbox.service import InboxService
from candor.partners.oauth.bearer import BearerService
from candor.partners.oauth.connected import ConnectedAppsService
from candor.partners.oauth.service import OAuthService
from candor.reports.deliver import DEFAULT_SCHEDULE, DeliveryWorker
from candor.reports.scheduler import ReportScheduler
from candor.reports.service import ReportsService
from candor.reports.views import ReportViews
from candor.share.service import ShareService, forget_person
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.keys import load_or_create_signer
from candor.transparency.log import TransparencyLog
from candor.transparency.service import TileService, TransparencyService


def build_homeserver(settings: Settings, clock: Clock | None = None) -> Homeserver:
    """The shared infrastructure: database, clock, persister, caches, limits and the log."""
    clock = clock or SystemClock()
    db = Database(settings.sqlalchemy_url(), pool_size=settings.database_pool_size)
    rl = settings.rate_limit
    tlog = TransparencyLog(db)
    access = AccessLog(db, tlog, clock)
    push = NotificationRecorder()
    typing = TypingTracker(clock)
    tokens = TokenCache()
    # SQLite is one process; on PostgreSQL any number of workers may share the database.
    notifier = Notifier() if db.is_sqlite else ClusterNotifier(db)
    observers: list[AppendObserver] = [push, RelationsIndexer(), SearchIndexer()]
    if isinstance(notifier, ClusterNotifier):
        notifier.share_tokens(tokens)
        notifier.share_typing(typing)
        observers.append(notifier.wake_observer())
    return Homeserver(
        settings=settings,
        db=db,
        clock=clock,
        token_key=settings.token_key(),
        notifier=notifier,
        persister=EventPersister(db, clock, notifier, observers=observers),
        push=push,
        ratelimiter=RateLimiter(
            clock,
            enabled=rl.enabled,
            per_second=rl.per_second,
            burst=rl.burst,
            shared=shared_limits(rl, settings.token_key()),
        ),
        login_backoff=LoginBackoff(
            clock,
            settings.login_backoff,
            shared_backoff(rl, settings.login_backoff, settings.token_key()),
        ),
        typing=typing,
        tokens=tokens,
        passwords=Passwords(settings.passwords),
        tlog=tlog,
        access=access,
        transparency=TransparencyService(
            db,
            tlog,
            access,
            load_or_create_signer(settings.data_dir, settings.transparency_origin()),
            clock,
            settings.transparency.checkpoint_interval_ms,
        ),
    )


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, built once per app; HTTP dependencies hand out these instances."""

    authenticator: Authenticator
    events: EventsService
    devices: DevicesService
    accounts: AccountsService
    deactivation: DeactivationService
    refresh: RefreshService
    account_tokens: TokensService
    profile: ProfileService
    room_aliases: RoomAliasesService
    room_directory: RoomDirectoryService
    rooms: RoomsService
    room_reads: RoomReadsService
    receipts: ReceiptsService
    sync: SyncService
    presence: PresenceService
    messages: MessagesService
    relations: RelationsService
    history: HistoryService
    keys: KeysService
    to_device: ToDeviceService
    tags: TagsService
    user_directory: UserDirectoryService
    discovery: Discovery
    turn: TurnService
    room_keys: RoomKeysService
    media: MediaService
    url_previews: UrlPreviewService
    admin: AdminService
    moderation: ModerationService
    privacy: PrivacyService
    push_rules: PushRulesService
    pushers: PushersService
    notifications: NotificationsService
    search: SearchService
    web_sessions: WebSessionsService
    tiles: TileService
    apps: PartnerAppsService
    partner_admin: PartnerAdminService
    oauth: OAuthService
    bearer: BearerService
    connected_apps: ConnectedAppsService
    consent: ConsentService
    inbox: InboxService
    share: ShareService
    reports: ReportsService
    report_views: ReportViews

    def by_type(self) -> dict[type, object]:
        """What `candor.matrix.http.provided` looks services up in."""
        return {type(value): value for value in (getattr(self, f.name) for f in fields(self))}


def build_services(hs: Homeserver) -> Services:
    """Each service gets exactly the collaborators its constructor names."""
    events = EventsService(hs.db)
    pushers = PushersService(
        hs.db,
        hs.clock,
        hs.persister,
        hs.push,
        allow_private_networks=hs.settings.push.allow_private_networks,
    )
    devices = DevicesService(hs.db, hs.persister, hs.tokens, pushers)
    accounts = AccountsService(
        db=hs.db,
        clock=hs.clock,
        persister=hs.persister,
        passwords=hs.passwords,
        ratelimiter=hs.ratelimiter,
        login_backoff=hs.login_backoff,
        devices=devices,
        server_name=hs.server_name,
        token_key=hs.token_key,
        registration_enabled=hs.settings.registration.enabled,
        access_token_lifetime_ms=hs.settings.accounts.access_token_lifetime_ms,
    )
    account_settings = hs.settings.accounts
    room_aliases = RoomAliasesService(hs.db, server_name=hs.server_name)
    allow_private_webhooks = hs.settings.webhooks.allow_private_networks
    apps = PartnerAppsService(
        db=hs.db,
        clock=hs.clock,
        token_key=hs.token_key,
        allow_private_webhooks=allow_private_webhooks,
    )
    bearer = BearerService(
        db=hs.db,
        clock=hs.clock,
        token_key=hs.token_key,
        accounts=accounts,
        access=hs.access,
        ratelimiter=hs.ratelimiter,
    )
    consent = ConsentService(
        db=hs.db,
        clock=hs.clock,
        persister=hs.persister,
        ratelimiter=hs.ratelimiter,
        apps=apps,
        grants=GrantObserver(db=hs.db, clock=hs.clock),
        answer_url=hs.public_base_url + GRANTS_PAGE,
    )
    reports = ReportsService(
        db=hs.db,
        clock=hs.clock,
        apps=apps,
        signer=hs.transparency.signer,
        issuer=hs.server_name,
        epsilon_budget=hs.settings.reports.epsilon_budget,
    )
    media = MediaService(
        hs.db,
        hs.clock,
        MediaStore(hs.settings.data_dir / "media"),
        hs.ratelimiter,
        server_name=hs.server_name,
        settings=hs.settings.media,
    )
    if isinstance(hs.notifier, ClusterNotifier):
        hs.notifier.share_media(media)
    connected_apps = ConnectedAppsService(db=hs.db, clock=hs.clock, apps=apps)
    partner_access = PartnerAccessEnder(consent=consent, connected=connected_apps)
    deactivation = DeactivationService(
        persister=hs.persister,
        accounts=accounts,
        devices=devices,
        media=media,
        access=hs.access,
        server_name=hs.server_name,
        on_deactivated=[partner_access.end_partner_access],
        on_erased=[functools.partial(forget_person, hs.db)],
    )
    return Services(
        authenticator=Authenticator(hs.db, hs.token_key, hs.tokens, hs.clock),
        events=events,
        devices=devices,
        accounts=accounts,
        deactivation=deactivation,
        refresh=RefreshService(
            hs.db, hs.clock, hs.token_key, hs.tokens, account_settings.access_token_lifetime_ms
        ),
        account_tokens=TokensService(
            db=hs.db,
            clock=hs.clock,
            token_key=hs.token_key,
            accounts=accounts,
            ratelimiter=hs.ratelimiter,
            get_login_token=account_settings.get_login_token,
            login_token_lifetime_ms=account_settings.login_token_lifetime_ms,
            openid_token_lifetime_ms=account_settings.openid_token_lifetime_ms,
        ),
        profile=ProfileService(hs.db, accounts),
        room_aliases=room_aliases,
        room_directory=RoomDirectoryService(hs.db, hs.persister, server_name=hs.server_name),
        rooms=RoomsService(
            hs.db,
            hs.clock,
            hs.persister,
            hs.ratelimiter,
            room_aliases,
            server_name=hs.server_name,
            encrypt_by_default=hs.settings.encryption.by_default,
        ),
        room_reads=RoomReadsService(hs.db, hs.clock),
        receipts=ReceiptsService(hs.db, hs.clock, hs.persister, hs.typing, hs.notifier),
        sync=SyncService(
            hs.db,
            hs.notifier,
            RoomsStream(hs.clock, default_timeline_limit=hs.settings.sync.default_timeline_limit),
            EphemeralStream(hs.typing),
            max_timeout_ms=hs.settings.sync.max_timeout_ms,
            presence=PresenceStream(hs.clock, hs.settings.presence),
        ),
        presence=PresenceService(hs.db, hs.clock, hs.persister, hs.settings.presence),
        messages=MessagesService(hs.db, hs.clock),
        relations=RelationsService(hs.db, hs.clock),
        history=HistoryService(hs.db, hs.clock),
        keys=KeysService(hs.db, hs.persister, accounts),
        to_device=ToDeviceService(hs.persister, hs.ratelimiter),
        tags=TagsService(hs.db, hs.persister),
        user_directory=UserDirectoryService(hs.db, hs.ratelimiter),
        discovery=Discovery(hs.public_base_url, hs.settings.support),
        turn=TurnService(hs.clock, hs.settings.turn),
        room_keys=RoomKeysService(hs.db),
        media=media,
        url_previews=UrlPreviewService(
            hs.ratelimiter,
            enabled=hs.settings.media.url_previews,
            allow_private_networks=hs.settings.media.url_preview_allow_private_networks,
        ),
        admin=AdminService(hs.db, hs.clock, hs.access),
        moderation=ModerationService(
            hs.db,
            hs.clock,
            RoomReadsService(hs.db, hs.clock),
            hs.ratelimiter,
            hs.tokens,
            hs.access,
            server_name=hs.server_name,
        ),
        privacy=PrivacyService(
            hs.transparency, hs.access, hs.tlog, public_base_url=hs.public_base_url, db=hs.db
        ),
        push_rules=PushRulesService(hs.db, hs.persister, hs.push),
        pushers=pushers,
        notifications=NotificationsService(hs.db, hs.clock),
        search=SearchService(hs.db, hs.clock),
        web_sessions=WebSessionsService(hs.db, hs.clock, accounts, hs.token_key),
        tiles=TileService(hs.db, hs.tlog),
        apps=apps,
        partner_admin=PartnerAdminService(apps=apps),
        oauth=OAuthService(
            db=hs.db, clock=hs.clock, token_key=hs.token_key, apps=apps, issuer=hs.public_base_url
        ),
        bearer=bearer,
        connected_apps=connected_apps,
        consent=consent,
        inbox=InboxService(consent=consent, bearer=bearer, access=hs.access, clock=hs.clock),
        share=ShareService(
            db=hs.db,
            clock=hs.clock,
            token_key=hs.token_key,
            persister=hs.persister,
            ratelimiter=hs.ratelimiter,
            apps=apps,
            public_base_url=hs.public_base_url,
        ),
        reports=reports,
        report_views=ReportViews(
            db=hs.db,
            token_key=hs.token_key,
            allow_private_webhooks=allow_private_webhooks,
            apps=apps,
            reports=reports,
        ),
    )


def build_delivery_worker(
    hs: Homeserver,
    *,
    retry_schedule_ms: Sequence[int] = DEFAULT_SCHEDULE,
    poll_interval_s: float = 5.0,
    timeout_s: float = 15.0,
    resolve: Resolver = system_resolve,
) -> DeliveryWorker:
    """The webhook delivery worker (the scheduler's; tests build one with their options)."""
    return DeliveryWorker(
        db=hs.db,
        clock=hs.clock,
        token_key=hs.token_key,
        allow_private_networks=hs.settings.webhooks.allow_private_networks,
        retry_schedule_ms=retry_schedule_ms,
        poll_interval_s=poll_interval_s,
        timeout_s=timeout_s,
        resolve=resolve,
    )


def build_push_worker(
    hs: Homeserver,
    services: Services,
    *,
    poll_interval_s: float = 5.0,
    resolve: Resolver = system_resolve,
) -> PushGatewayWorker:
    """The push gateway worker of `candor serve`, from `push.*` (tests build one too)."""
    push = hs.settings.push
    return PushGatewayWorker(
        db=hs.db,
        clock=hs.clock,
        pushers=services.pushers,
        allow_private_networks=push.allow_private_networks,
        event_id_only=push.event_id_only,
        retry=PushRetry(
            initial_ms=int(push.retry_initial_s * 1000),
            max_ms=int(push.retry_max_s * 1000),
            max_attempts=push.max_attempts,
        ),
        timeout_s=push.timeout_s,
        poll_interval_s=poll_interval_s,
        resolve=resolve,
    )


def build_report_scheduler(
    hs: Homeserver, services: Services, *, interval_s: float | None = None
) -> ReportScheduler:
    """The report scheduler of `candor serve` and its delivery worker, from settings."""
    interval = interval_s or hs.settings.reports.interval_s
    # Retries start 5 s apart (Standard Webhooks' schedule), so poll at least that often.
    retry = hs.settings.reports.webhook_retry_s
    deliveries = build_delivery_worker(
        hs,
        retry_schedule_ms=[int(s * 1000) for s in retry],
        poll_interval_s=min(5.0, interval, *(s for s in retry if s > 0)),
    )
    return ReportScheduler(reports=services.reports, deliveries=deliveries, interval_s=interval)
