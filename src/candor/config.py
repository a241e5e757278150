"""Settings: one object, read from CLI flags > `CANDOR_*` env > `candor.toml` > defaults.

Built once by the CLI and passed down (`create_app(settings)`); nothing else reads the
environment. A start with no configuration at all works: SQLite and secrets under
`./candor-data/`.
"""

import ipaddress
import re
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_core import Url, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from candor.core.ids import InvalidId, UserID, valid_server_name


class HttpSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address `candor serve` listens on.")
    port: int = Field(8008, ge=0, le=65535, description="TCP port `candor serve` listens on.")
    max_request_bytes: int = Field(
        1048576,
        ge=1024,
        description=(
            "Largest request body accepted; larger ones get M_TOO_LARGE. Events and to-device "
            "messages have their own 64 KiB limit; this bounds key uploads and key backups."
        ),
    )
    public_base_url: str | None = Field(
        None,
        description=(
            "The URL people and apps reach Candor at (scheme, host, optional port; no path, "
            "query, fragment or user info). Every absolute URL Candor emits (OAuth issuer, "
            "grant notices, share links) starts with it, never with a request's Host header. "
            "Default: http://HOST:PORT of this listener (127.0.0.1 for a wildcard address)."
        ),
    )

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str | None) -> str | None:
        return None if value is None else normalise_base_url(value)

    def base_url(self) -> str:
        """The public base URL, without a trailing slash: configured, or derived from the
        listener (what `make run` and `candor serve --host --port` are reached at)."""
        if self.public_base_url is not None:
            return self.public_base_url
        host = self.host.strip("[]") or "127.0.0.1"
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return f"http://{host}:{self.port}"
        if address.is_unspecified:
            return f"http://127.0.0.1:{self.port}"
        return (
            f"http://[{host}]:{self.port}" if address.version == 6 else f"http://{host}:{self.port}"
        )


_ABSOLUTE_HTTP = re.compile(r"https?://[^/\\]", re.IGNORECASE)


def normalise_base_url(value: str) -> str:
    """A public base URL in its one serialised form (WHATWG URL parsing, as a browser reads
    it), without the trailing slash; ValueError says what is wrong.

    Candor's pages link with absolute paths (`/privacy/grants`), so the URL must be the root
    of its origin: a path would be dropped by every link, so it is refused rather than
    half-honoured. User info, a query or a fragment would end up inside every emitted link.
    """
    if any(c.isspace() or not c.isprintable() or c == "\\" for c in value):
        raise ValueError("the public base URL must not contain spaces, control characters or '\\'")
    if not _ABSOLUTE_HTTP.match(value):
        raise ValueError("the public base URL must be an absolute http:// or https:// URL")
    try:
        url = Url(value)
    except ValidationError:
        raise ValueError("the public base URL is not a valid URL") from None
    if url.username is not None or url.password is not None:
        raise ValueError("the public base URL must not contain user info")
    if "?" in value or "#" in value:
        raise ValueError("the public base URL must not have a query or a fragment")
    if url.path not in (None, "/"):
        raise ValueError("the public base URL must not have a path: Candor is served at the root")
    return str(url).rstrip("/")


class RegistrationSettings(BaseModel):
    enabled: bool = Field(True, description="Whether anyone may register an account.")


class AccountSettings(BaseModel):
    """Lifetimes of the tokens accounts hand out besides plain access tokens."""

    access_token_lifetime_ms: int = Field(
        300_000,
        ge=10_000,
        description=(
            "Lifetime of an access token issued with a refresh token (a client that sends "
            "`refresh_token: true`); Synapse's default, 5 minutes. Other access tokens never "
            "expire."
        ),
    )
    login_token_lifetime_ms: int = Field(
        120_000,
        ge=10_000,
        le=600_000,
        description="Lifetime of a single-use `m.login.token` from `POST /login/get_token`.",
    )
    get_login_token: bool = Field(
        True,
        description="Whether a signed-in person may sign in another device (`/login/get_token`).",
    )
    openid_token_lifetime_ms: int = Field(
        3_600_000,
        ge=60_000,
        description="Lifetime of an OpenID token (`POST /user/{userId}/openid/request_token`).",
    )


class RateLimitSettings(BaseModel):
    enabled: bool = Field(True, description="Per-user rate limiting of sends and logins.")
    per_second: float = Field(
        10.0, gt=0, description="Sustained requests per second allowed per user (token bucket)."
    )
    burst: int = Field(50, ge=1, description="Requests a user may make at once before limiting.")
    storage_url: SecretStr | None = Field(
        None,
        description=(
            "Redis URL (redis://host:6379/0) of a store every worker shares, so a limit "
            "holds across workers; unset: each process limits alone (N workers, N times looser)."
        ),
    )
    key_prefix: str = Field(
        "candor-rl",
        min_length=1,
        description="Prefix of the shared store's keys (one per deployment sharing a Redis).",
    )

    @field_validator("storage_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://")):
            raise ValueError("the rate-limit store must be a redis:// or rediss:// URL")
        return value


class LoginBackoffSettings(BaseModel):
    """Progressive delays after failed logins (Matrix `/login`, the web login form and
    password re-authentication), counted where the rate limits are (each process's memory,
    or `rate_limit.storage_url`). Separate from `rate_limit`: `--no-rate-limit` (for
    benchmarks) does not switch this off."""

    enabled: bool = Field(True, description="Delay further attempts after repeated failed logins.")
    free_failures: int = Field(
        5,
        ge=1,
        description="Failed attempts, per account and per client address, made without delay.",
    )
    base_delay_ms: int = Field(
        1000, ge=1, description="Wait after the last free failure; doubles with each further one."
    )
    account_max_delay_ms: int = Field(
        60_000,
        ge=1,
        description=(
            "Longest wait for one account: short, so nobody can lock the owner out for long; "
            "a successful login resets the account's count."
        ),
    )
    address_max_delay_ms: int = Field(
        900_000,
        ge=1,
        description=(
            "Longest wait for one client address (the counter that grows); "
            "a successful login does not reset it."
        ),
    )
    forget_after_ms: int = Field(
        86_400_000, ge=1, description="A count starts over this long after its last failure."
    )


class PasswordSettings(BaseModel):
    """Argon2id's cost for new password hashes; a stored hash keeps the cost it was made
    with, so changing these never locks anyone out. Parallelism is 1."""

    time_cost: int = Field(
        2, ge=1, description="Argon2id passes over memory (OWASP's recommendation: 2)."
    )
    memory_cost_kib: int = Field(
        19 * 1024,
        ge=8,
        description=(
            "Argon2id memory per hash in KiB (OWASP's recommendation: 19456, 19 MiB); at most "
            "two hashes run at once. Lower only for tests: it is what makes guessing expensive."
        ),
    )


class SyncSettings(BaseModel):
    max_timeout_ms: int = Field(
        60000, ge=0, description="Upper bound on a /sync long-poll, whatever the client asks."
    )
    default_timeline_limit: int = Field(
        10, ge=1, le=1000, description="Timeline events per room when a filter sets none."
    )


class PresenceSettings(BaseModel):
    """Presence (online / unavailable / offline, last active, status message).

    Off by default: presence tells everyone who shares any room with a person when that
    person is online and how long ago they last used a client, without asking them
    (docs/configuration.md explains the trade-off)."""

    enabled: bool = Field(
        False,
        description=(
            "Store and share presence with the people who share a room. When off, nothing is "
            "stored: GET presence answers offline, PUT is accepted and ignored, /sync carries "
            "no presence."
        ),
    )
    idle_after_ms: int = Field(
        300_000,
        ge=1000,
        description="An online person with no /sync or presence update for this long reads as unavailable.",
    )
    offline_after_ms: int = Field(
        900_000,
        ge=1000,
        description="A person with no /sync or presence update for this long reads as offline.",
    )


class EncryptionSettings(BaseModel):
    by_default: bool = Field(
        True,
        description=(
            "Put m.room.encryption (m.megolm.v1.aes-sha2) into every new room created with the "
            "private_chat or trusted_private_chat preset or as a direct message."
        ),
    )


class TransparencySettings(BaseModel):
    origin: str | None = Field(
        None,
        description=(
            "The log's origin line (and signing key name); default: SERVER_NAME/candor-log. "
            "Changing it starts a different log as far as witnesses are concerned."
        ),
    )
    checkpoint_interval_ms: int = Field(
        1000, ge=10, description="How often a new signed checkpoint is made while the log grows."
    )


class ReportSettings(BaseModel):
    scheduler: bool = Field(
        True,
        description=(
            "Whether `candor serve` produces each app's report when its period ends and "
            "delivers it to the app's webhook."
        ),
    )
    interval_s: float = Field(
        60.0,
        gt=0,
        description="How often the scheduler looks for ended periods and due deliveries.",
    )
    webhook_retry_s: list[float] = Field(
        [0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        description=(
            "Seconds to wait before each webhook delivery attempt (Standard Webhooks' "
            "suggested schedule); after the last one fails the delivery is marked failed."
        ),
    )
    epsilon_budget: float = Field(
        26.0,
        gt=0,
        description=(
            "Total ε each app may spend on differentially private reports (26 = a year of "
            "biweekly reports at ε = 1); a report that would exceed it is refused."
        ),
    )


class WebhookSettings(BaseModel):
    allow_private_networks: bool = Field(
        False,
        description=(
            "Let webhooks reach loopback, private (RFC 1918), link-local and unique-local "
            "addresses, and plain http on loopback. Off by default, so a partner's webhook "
            "cannot reach inside the operator's network; for tests and local development only."
        ),
    )


_TURN_URI = re.compile(r"turns?:\S+")


class TurnSettings(BaseModel):
    """TURN credentials handed to clients for calls (`GET /voip/turnServer`). With a shared
    secret, each user gets a time-limited username and an HMAC password (the TURN REST API
    scheme coturn's `use-auth-secret` checks); otherwise the fixed username and password."""

    uris: list[str] = Field(
        default_factory=list,
        description=(
            "TURN server URIs (`turn:` or `turns:`, e.g. `turn:turn.example.org:3478?transport=udp`). "
            "None: `/voip/turnServer` answers 404 M_NOT_FOUND and clients call without TURN."
        ),
    )
    shared_secret: SecretStr | None = Field(
        None,
        description=(
            "The secret shared with the TURN server (coturn's `static-auth-secret`): passwords "
            'are base64(HMAC-SHA1(secret, "EXPIRY:USER_ID")).'
        ),
    )
    username: str | None = Field(
        None, description="A fixed TURN username, used only when there is no shared secret."
    )
    password: SecretStr | None = Field(
        None, description="The fixed TURN password that goes with `username`."
    )
    user_lifetime_s: int = Field(
        3600,
        ge=60,
        le=7 * 86400,
        description="How long shared-secret credentials stay valid (the answer's `ttl`).",
    )

    @field_validator("uris")
    @classmethod
    def _check_uris(cls, value: list[str]) -> list[str]:
        for uri in value:
            if not _TURN_URI.fullmatch(uri):
                raise ValueError(f"not a turn: or turns: URI: {uri!r}")
        return value

    @model_validator(mode="after")
    def _check_credentials(self) -> "TurnSettings":
        fixed = self.username is not None and self.password is not None
        if self.uris and self.shared_secret is None and not fixed:
            raise ValueError("turn.uris needs turn.shared_secret, or turn.username and password")
        return self


class SupportContact(BaseModel):
    role: str = Field(
        min_length=1,
        description="`m.role.admin`, `m.role.security` or a namespaced role of your own.",
    )
    matrix_id: str | None = Field(None, description="A Matrix user id to reach the contact at.")
    email_address: str | None = Field(None, description="An e-mail address to reach them at.")

    @field_validator("matrix_id")
    @classmethod
    def _check_matrix_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(UserID.parse(value))
        except InvalidId:
            raise ValueError(f"not a Matrix user id: {value!r}") from None

    @model_validator(mode="after")
    def _check_reachable(self) -> "SupportContact":
        if self.matrix_id is None and not self.email_address:
            raise ValueError("a support contact needs matrix_id or email_address")
        return self


class SupportSettings(BaseModel):
    """What `/.well-known/matrix/support` says (the spec's server support discovery)."""

    contacts: list[SupportContact] = Field(
        default_factory=list,
        description="Ways to reach the server's administrators (each with a role).",
    )
    page: str | None = Field(
        None, description="An http(s) URL of a help page for this server's users."
    )

    @field_validator("page")
    @classmethod
    def _check_page(cls, value: str | None) -> str | None:
        if value is not None and not _ABSOLUTE_HTTP.match(value):
            raise ValueError("support.page must be an absolute http:// or https:// URL")
        return value


class ThumbnailSize(BaseModel):
    width: int = Field(ge=1, le=4096, description="Width of the box, in pixels.")
    height: int = Field(ge=1, le=4096, description="Height of the box, in pixels.")
    method: Literal["crop", "scale"] = Field(
        description="`crop` fills the box (cutting the edges off); `scale` fits inside it."
    )


# The spec's recommended sizes (client-server API, "Thumbnails").
DEFAULT_THUMBNAIL_SIZES = (
    ThumbnailSize(width=32, height=32, method="crop"),
    ThumbnailSize(width=96, height=96, method="crop"),
    ThumbnailSize(width=320, height=240, method="scale"),
    ThumbnailSize(width=640, height=480, method="scale"),
    ThumbnailSize(width=800, height=600, method="scale"),
)


class MediaSettings(BaseModel):
    """The media repository: uploads, downloads, thumbnails and URL previews."""

    max_upload_bytes: int = Field(
        52_428_800,
        ge=1024,
        description="Largest file accepted; larger uploads get 413 M_TOO_LARGE (default 50 MiB).",
    )
    quota_bytes_per_user: int = Field(
        1_073_741_824,
        ge=0,
        description=(
            "Total size of the files one account may have stored; an upload past it gets "
            "403 M_FORBIDDEN. 0 means no quota (default 1 GiB)."
        ),
    )
    max_pending_uploads: int = Field(
        5,
        ge=1,
        description=(
            "Media ids one account may hold from POST /_matrix/media/v1/create without having "
            "uploaded to them yet; one more gets 429 M_LIMIT_EXCEEDED."
        ),
    )
    unused_expiry_ms: int = Field(
        86_400_000,
        ge=1000,
        description="How long a created media id waits for its upload (the spec's 24 hours).",
    )
    thumbnail_sizes: list[ThumbnailSize] = Field(
        default_factory=lambda: list(DEFAULT_THUMBNAIL_SIZES),
        min_length=1,
        description=(
            "The thumbnail boxes Candor makes; a request is answered with the smallest box "
            "of its method that covers it (the largest when none does)."
        ),
    )
    max_thumbnail_pixels: int = Field(
        32_000_000,
        ge=1,
        le=89_478_485,
        description=(
            "Largest image (width x height) Candor decodes to make a thumbnail; larger ones get "
            "413 M_TOO_LARGE (a guard against decompression bombs)."
        ),
    )
    legacy_unauthenticated_downloads: bool = Field(
        False,
        description=(
            "Serve the deprecated unauthenticated /_matrix/media/v3/download and thumbnail "
            "endpoints. Off: they answer 404 M_NOT_FOUND (the spec's v1.11 freeze), so nobody "
            "without an account can fetch a file by its mxc:// URI."
        ),
    )
    url_previews: bool = Field(
        False,
        description=(
            "Answer preview_url: the server fetches links people send (it sees them, and the "
            "linked site sees the server). Off: 404 M_UNRECOGNIZED."
        ),
    )
    url_preview_allow_private_networks: bool = Field(
        False,
        description=(
            "Let URL previews reach loopback, private, link-local and unique-local addresses. "
            "For tests and local development only."
        ),
    )


class PushSettings(BaseModel):
    allow_private_networks: bool = Field(
        False,
        description=(
            "Let pushers' gateway URLs reach loopback, private (RFC 1918), link-local and "
            "unique-local addresses, and plain http on loopback. Off by default, so a user's "
            "pusher cannot make the server post inside the operator's network; for tests and "
            "a push gateway on the same machine only."
        ),
    )
    event_id_only: bool = Field(
        False,
        description=(
            "Send every push in the event_id_only format (ids and unread counts, no sender, "
            "type, room name or content), whatever format the pusher asked for."
        ),
    )
    retry_initial_s: float = Field(
        1.0, gt=0, description="Wait after a push's first failed attempt; doubles each time."
    )
    retry_max_s: float = Field(3600.0, gt=0, description="Longest wait between two attempts.")
    max_attempts: int = Field(
        20, ge=1, description="Attempts at one push before it is dropped (and logged)."
    )
    timeout_s: float = Field(15.0, gt=0, description="Time a push gateway has to answer.")


class Settings(BaseSettings):
    """All of Candor's configuration; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="CANDOR_",
        env_nested_delimiter="__",
        toml_file="candor.toml",
        extra="forbid",
    )

    data_dir: Path = Field(
        Path("candor-data"),
        description="Directory for the SQLite database, generated keys and media files (media/).",
    )
    database_url: str | None = Field(
        None,
        description=(
            "`sqlite:///path/file.db` or `postgresql://user:pass@host:port/db`; "
            "default: SQLite at DATA_DIR/candor.db."
        ),
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=1000,
        description=(
            "PostgreSQL connections each worker keeps open (as many again may open for a "
            "burst, then close)."
        ),
    )
    server_name: str = Field(
        "localhost", description="The domain in user and room ids (`@alice:SERVER_NAME`)."
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Key for hashing access tokens; default: generated once into DATA_DIR/secret.key. "
            "All workers sharing a database must share it."
        ),
    )
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP listener.")
    registration: RegistrationSettings = Field(
        default_factory=RegistrationSettings, description="Account registration."
    )
    accounts: AccountSettings = Field(
        default_factory=AccountSettings,
        description="Refresh, login and OpenID token lifetimes.",
    )
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings, description="Per-user rate limits."
    )
    login_backoff: LoginBackoffSettings = Field(
        default_factory=LoginBackoffSettings,
        description="Progressive delays after failed logins, per account and per address.",
    )
    passwords: PasswordSettings = Field(
        default_factory=PasswordSettings, description="The cost of password hashing."
    )
    sync: SyncSettings = Field(default_factory=SyncSettings, description="/sync behaviour.")
    presence: PresenceSettings = Field(
        default_factory=PresenceSettings, description="Presence (who is online), off by default."
    )
    encryption: EncryptionSettings = Field(
        default_factory=EncryptionSettings, description="End-to-end encryption defaults."
    )
    transparency: TransparencySettings = Field(
        default_factory=TransparencySettings, description="The access transparency log."
    )
    reports: ReportSettings = Field(
        default_factory=ReportSettings, description="Engagement reports and their delivery."
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings, description="Where webhooks may be sent."
    )
    turn: TurnSettings = Field(
        default_factory=TurnSettings, description="TURN servers for voice and video calls."
    )
    support: SupportSettings = Field(
        default_factory=SupportSettings,
        description="Support contacts and page (`/.well-known/matrix/support`).",
    )
    media: MediaSettings = Field(
        default_factory=MediaSettings, description="The media repository (files and previews)."
    )
    push: PushSettings = Field(
        default_factory=PushSettings, description="Push notifications to push gateways."
    )

    @field_validator("server_name")
    @classmethod
    def _check_server_name(cls, value: str) -> str:
        if not valid_server_name(value):
            raise ValueError(f"not a valid Matrix server name: {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def sqlalchemy_url(self) -> str:
        """The async driver URL for the configured database, in SQLAlchemy's form."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'candor.db'}"
        for plain, driver in (
            ("sqlite://", "sqlite+aiosqlite://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            return url
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")

    def transparency_origin(self) -> str:
        return self.transparency.origin or f"{self.server_name}/candor-log"

    def token_key(self) -> bytes:
        """The HMAC key for stored token hashes, created on first use in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()


# Any: pydantic validates each override against its field, as it does the file and env.
def load_settings(**overrides: Any) -> Settings:
    """Build settings with CLI flags (non-None values) taking precedence over everything."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
