"""The homeserver's long-lived parts, built once in `create_app` and shared by requests."""

from dataclasses import dataclass

from candor.config import Settings
from candor.core.clock import Clock
from candor.matrix.accounts.passwords import Passwords
from candor.matrix.accounts.token_cache import TokenCache
from candor.matrix.events.persister import EventPersister
from candor.matrix.login_backoff import LoginBackoff
from candor.matrix.push.recorder import NotificationRecorder
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.sync.notifier import Notifier
from candor.matrix.sync.typing import TypingTracker
from candor.store.db import Database
from candor.transparency.access import AccessLog
from candor.transparency.log import TransparencyLog
from candor.transparency.service import TransparencyService


@dataclass(frozen=True, slots=True)
class Homeserver:
    settings: Settings
    db: Database
    clock: Clock
    token_key: bytes
    notifier: Notifier
    persister: EventPersister
    # Evaluates push rules for every appended event, inside the persister's transaction.
    push: NotificationRecorder
    ratelimiter: RateLimiter
    login_backoff: LoginBackoff
    typing: TypingTracker
    tokens: TokenCache
    passwords: Passwords
    tlog: TransparencyLog
    access: AccessLog
    transparency: TransparencyService

    @property
    def server_name(self) -> str:
        return self.settings.server_name

    @property
    def public_base_url(self) -> str:
        """Where people and apps reach this server (`http.public_base_url`, no trailing
        slash). Every absolute URL Candor emits starts with it; a request's Host header is
        the client's claim and never appears in anything shown to others."""
        return self.settings.http.base_url()
