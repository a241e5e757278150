"""Accounts: registration, login, logout, passwords, profiles, filters and account data."""

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.core.errors import CandorError
from candor.core.ids import MAX_ID_LENGTH, USER_LOCALPART_RE, UserID
from candor.core.tokens import hash_token, new_token, random_string
from candor.matrix.accounts import facts
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.authenticator import ACCESS_TOKEN_PREFIX
from candor.matrix.accounts.passwords import Passwords
from candor.matrix.accounts.refresh import LOGIN_TOKEN, issue_refreshable
from candor.matrix.accounts.schemas import AuthDict, LoginBody, RegisterBody
from candor.matrix.accounts.uia import AuthRequired
from candor.matrix.constants import LoginType
from candor.matrix.devices import facts as devices_facts
from candor.matrix.devices.service import DevicesService
from candor.matrix.errors import (
    Codes,
    Forbidden,
    InvalidParam,
    LoginLocked,
    MatrixError,
    MissingParam,
    NotFound,
    UserDeactivated,
)
from candor.matrix.events.filters import check_definition
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.login_backoff import LoginBackoff
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester
from candor.store.db import Database

logger = logging.getLogger(__name__)

MAX_PASSWORD_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    device_id: str
    access_token: str
    # Only for a client that asked for one (`refresh_token: true`); its access token expires.
    refresh_token: str | None = None
    expires_in_ms: int | None = None

    def to_json(self, server_name: str) -> JsonDict:
        out: JsonDict = {
            "user_id": self.user_id,
            "access_token": self.access_token,
            "device_id": self.device_id,
            "home_server": server_name,
        }
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
            out["expires_in_ms"] = self.expires_in_ms
        return out


class AccountsService:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        persister: EventPersister,
        passwords: Passwords,
        ratelimiter: RateLimiter,
        login_backoff: LoginBackoff,
        devices: DevicesService,
        server_name: str,
        token_key: bytes,
        registration_enabled: bool,
        access_token_lifetime_ms: int = 300_000,
    ) -> None:
        self._db = db
        self._clock = clock
        self._persister = persister
        self._passwords = passwords
        self._ratelimiter = ratelimiter
        self._login_backoff = login_backoff
        self._devices = devices
        self._token_key = token_key
        self._registration_enabled = registration_enabled
        self._access_token_lifetime_ms = access_token_lifetime_ms
        self.server_name = server_name

    # --- registration ----------------------------------------------------------------

    def check_username(self, localpart: str) -> str:
        """Validate a requested localpart and return the full user id."""
        if not localpart or not USER_LOCALPART_RE.match(localpart):
            raise MatrixError(
                400,
                Codes.INVALID_USERNAME,
                "User ID may only contain a-z, 0-9, and one of ._=-/+",
            )
        user_id = f"@{localpart}:{self.server_name}"
        if len(user_id.encode()) > MAX_ID_LENGTH:
            raise MatrixError(400, Codes.INVALID_USERNAME, "User ID is too long")
        return user_id

    async def check_available(self, localpart: str) -> None:
        user_id = self.check_username(localpart)
        async with self._db.read() as conn:
            if await repo.get_user(conn, user_id) is not None:
                raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken")

    @property
    def registration_enabled(self) -> bool:
        return self._registration_enabled

    async def register(self, body: RegisterBody, address: str | None = None) -> Session | str:
        """Create an account; returns a login session, or just the user id with inhibit_login.

        The one registration path for both doors (Matrix `/register` and the web sign-up),
        so the rules and the limit are the same: every attempt from a client address takes
        from its `register:` bucket before anything is checked or hashed, which bounds the
        password hashing (the expensive part) that one address can cause.
        """
        if not self._registration_enabled:
            raise Forbidden("Registration is disabled on this server")
        if address is not None:
            await self._ratelimiter.check(f"register:{address}")
        localpart = body.username.lower() if body.username else None
        user_id = self.check_username(localpart) if localpart else None
        if user_id is not None:
            async with self._db.read() as conn:
                if await repo.get_user(conn, user_id) is not None:
                    raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken")
        if body.auth is None or body.auth.type != LoginType.DUMMY:
            session = body.auth.session if body.auth else None
            raise AuthRequired([LoginType.DUMMY], session)
        if body.password is None:
            raise MissingParam("Missing password")
        self._check_password(body.password)
        if user_id is None:
            user_id = self.check_username(random_string(9).lower().replace("_", "-"))
        password_hash = await self._passwords.hash(body.password)
        async with self._db.write() as conn:
            try:
                await repo.add_user(
                    conn,
                    user_id,
                    password_hash,
                    is_admin=False,
                    displayname=UserID.parse(user_id).localpart,
                    ts=self._clock.now_ms(),
                )
            except repo.UserExists:
                raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken") from None
            if body.inhibit_login:
                return user_id
            return await self._new_session(
                conn,
                user_id,
                body.device_id,
                body.initial_device_display_name,
                refresh=body.refresh_token,
            )

    async def create_user(self, localpart: str, password: str, *, admin: bool) -> str:
        """Operator path (`candor user create`): no UIA, registration switch ignored."""
        user_id = self.check_username(localpart.lower())
        self._check_password(password)
        password_hash = await self._passwords.hash(password)
        async with self._db.write() as conn:
            try:
                await repo.add_user(
                    conn,
                    user_id,
                    password_hash,
                    is_admin=admin,
                    displayname=localpart.lower(),
                    ts=self._clock.now_ms(),
                )
            except repo.UserExists:
                raise MatrixError(400, Codes.USER_IN_USE, "User ID already taken") from None
        return user_id

    @staticmethod
    def _check_password(password: str) -> None:
        if not password:
            raise MatrixError(400, Codes.WEAK_PASSWORD, "Password must not be empty")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidParam("Password too long")

    # --- login and logout ----------------------------------------------------------------

    async def login(self, body: LoginBody, address: str | None) -> Session:
        """POST /login with a password or a login token (`POST /login/get_token`);
        `address` is the client's, for the back-off."""
        if body.type == LoginType.TOKEN:
            return await self._login_with_token(body, address)
        if body.type != LoginType.PASSWORD:
            raise MatrixError(400, Codes.UNKNOWN, "Unknown login type")
        user_id = self._user_from_identifier(body.identifier, body.user)
        if body.password is None:
            raise MissingParam("Missing password")
        await self._ratelimiter.check(f"login:{user_id}")
        await self._check_login(user_id, body.password, address)
        async with self._db.write() as conn:
            return await self._new_session(
                conn,
                user_id,
                body.device_id,
                body.initial_device_display_name,
                refresh=body.refresh_token,
            )

    async def _login_with_token(self, body: LoginBody, address: str | None) -> Session:
        """m.login.token: the token is used up whether or not the rest succeeds (it is
        deleted in the transaction that reads it), and an unknown, used or expired one is
        the same 403. Limited per client address, like registrations."""
        if body.token is None:
            raise MissingParam("Missing token")
        if address is not None:
            await self._ratelimiter.check(f"login-token:{address}")
        token_hash = hash_token(body.token, self._token_key)
        async with self._db.write() as conn:
            user_id = await repo.take_short_lived_token(
                conn, token_hash, LOGIN_TOKEN, self._clock.now_ms(), single_use=True
            )
            if user_id is None:
                raise Forbidden("Invalid login token")
            return await self._new_session(
                conn,
                user_id,
                body.device_id,
                body.initial_device_display_name,
                refresh=body.refresh_token,
            )

    async def authenticate(self, username: str, password: str, address: str | None) -> str:
        """Check a web login (a localpart or a full `@user:server` id); returns the user id.

        Every failure (a malformed or unknown id, a deactivated account, a wrong password)
        is the same Forbidden, so the answer never tells whether an account exists. The
        per-user rate limit and the failed-login back-off are the Matrix login's: one
        budget for both doors.
        """
        try:
            user_id = self._user_from_identifier(None, username.strip())
        except CandorError:
            raise Forbidden("Invalid username or password") from None
        if len(password) > MAX_PASSWORD_LENGTH:
            raise Forbidden("Invalid username or password")
        await self._ratelimiter.check(f"login:{user_id}")
        await self._check_login(user_id, password, address)
        async with self._db.read() as conn:
            if await repo.is_locked(conn, user_id):
                raise LoginLocked
        return user_id

    async def _check_login(self, user_id: str, password: str, address: str | None) -> None:
        """The password check behind every door, with the back-off around it
        (`matrix/login_backoff.py`): refused while a delay runs, counted, reset on success."""
        backoff = self._login_backoff
        await backoff.begin(user_id, address)
        await self._check_credentials(user_id, password)
        await backoff.succeeded(user_id, address)

    def _user_from_identifier(self, identifier: dict[str, object] | None, user: str | None) -> str:
        if identifier is not None:
            if identifier.get("type") != "m.id.user":
                raise MatrixError(400, Codes.UNKNOWN, "Only m.id.user identifiers are supported")
            raw = identifier.get("user")
            if not isinstance(raw, str):
                raise MissingParam("identifier.user is required")
            user = raw
        if not user:
            raise MissingParam("Missing user identifier")
        if user.startswith("@"):
            parsed = UserID.parse(user)
            return f"@{parsed.localpart.lower()}:{parsed.server}"
        return f"@{user.lower()}:{self.server_name}"

    async def _check_credentials(self, user_id: str, password: str) -> None:
        async with self._db.read() as conn:
            user = await repo.get_user(conn, user_id)
        if user is None or user.password_hash is None:
            await self._passwords.verify_nothing(password)  # the same time as a wrong password
            if user is not None and user.deactivated:
                # Deactivation dropped the password; the spec names this refusal, and the
                # id's existence is no secret (it stays taken: /register/available).
                raise UserDeactivated
            raise Forbidden("Invalid username or password")
        if not await self._passwords.verify(user.password_hash, password):
            raise Forbidden("Invalid username or password")
        if user.deactivated:
            raise UserDeactivated

    async def _new_session(
        self,
        conn: AsyncConnection,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        *,
        refresh: bool = False,
    ) -> Session:
        if await repo.is_locked(conn, user_id):
            # No new session for a locked account (its existing ones answer M_USER_LOCKED
            # too), checked after the password so the answer tells nothing to a stranger.
            raise LoginLocked
        device_id = device_id or random_string(8).upper().replace("-", "A").replace("_", "B")
        now = self._clock.now_ms()
        await devices_facts.add_device(conn, user_id, device_id, display_name, now)
        if not refresh:
            token = new_token(ACCESS_TOKEN_PREFIX)
            await repo.add_token(conn, hash_token(token, self._token_key), user_id, device_id, now)
            return Session(user_id, device_id, token)
        pair = await issue_refreshable(
            conn,
            self._token_key,
            user_id,
            device_id,
            now,
            lifetime_ms=self._access_token_lifetime_ms,
        )
        return Session(
            user_id, device_id, pair.access_token, pair.refresh_token, pair.expires_in_ms
        )

    async def logout(self, requester: Requester) -> None:
        """Spec: the token is invalidated and its device deleted (with its keys)."""
        await self._devices.delete(requester.user_id, [requester.device_id])

    async def logout_all(self, requester: Requester) -> None:
        await self._devices.delete(requester.user_id, None)

    async def delete_devices(
        self, requester: Requester, device_ids: list[str], auth: AuthDict | None
    ) -> None:
        """DELETE /devices/{id} and POST /delete_devices: the password first (UIA)."""
        await self.check_password_auth(requester, auth)
        await self._devices.delete(requester.user_id, device_ids)

    async def change_password(
        self, requester: Requester, new_password: str, logout_devices: bool, auth: AuthDict | None
    ) -> None:
        await self.check_password_auth(requester, auth)
        self._check_password(new_password)
        new_hash = await self._passwords.hash(new_password)
        async with self._db.write() as conn:
            await repo.set_password(conn, requester.user_id, new_hash)
            # Browser sessions hold no device to keep: a new password ends all of them.
            await repo.delete_web_sessions_of(conn, requester.user_id)
            others = [
                d
                for d in await devices_facts.device_ids(conn, requester.user_id)
                if d != requester.device_id
            ]
        if logout_devices and others:
            await self._devices.delete(requester.user_id, others)

    async def check_password_auth(self, requester: Requester, auth: AuthDict | None) -> None:
        """User-interactive auth with the account password, for sensitive changes.

        Raises AuthRequired (401 with the flows, and the error once an attempt failed)
        until `auth` carries the requester's own, correct password.
        """
        if auth is None or auth.type != LoginType.PASSWORD:
            raise AuthRequired([LoginType.PASSWORD], auth.session if auth else None)
        claimed = self._user_from_identifier(auth.identifier, auth.user or requester.user_id)
        if claimed != requester.user_id or auth.password is None:
            raise AuthRequired(
                [LoginType.PASSWORD], auth.session, failed="Invalid username or password"
            )
        await self._ratelimiter.check(f"login:{requester.user_id}")
        try:
            # The account's back-off only: the caller already holds a token.
            await self._check_login(requester.user_id, auth.password, None)
        except Forbidden:
            raise AuthRequired(
                [LoginType.PASSWORD], auth.session, failed="Invalid username or password"
            ) from None

    # --- profile ---------------------------------------------------------------------

    async def get_profile(self, user_id: str) -> JsonDict:
        async with self._db.read() as conn:
            found = await facts.profile(conn, user_id)
        if found is None:
            raise NotFound("Profile not found")
        return found

    async def set_profile_field(
        self, requester: Requester, user_id: str, field: str, value: str | None
    ) -> None:
        if user_id != requester.user_id and not requester.is_admin:
            raise Forbidden("You may only change your own profile")
        if value is not None and len(value) > 256 and field == "displayname":
            raise InvalidParam("displayname is too long")
        if value is not None and len(value) > 1000:
            raise InvalidParam(f"{field} is too long")
        async with self._db.write() as conn:
            if await repo.get_user(conn, user_id) is None:
                raise NotFound("Profile not found")
            await repo.set_profile_field(conn, user_id, field, value)

    # --- filters ---------------------------------------------------------------------

    async def add_filter(self, requester: Requester, user_id: str, filter_json: JsonDict) -> str:
        if user_id != requester.user_id:
            raise Forbidden("Cannot create filters for other users")
        check_definition(filter_json)
        async with self._db.write() as conn:
            return str(await repo.add_filter(conn, user_id, filter_json))

    async def get_filter(self, requester: Requester, user_id: str, filter_id: str) -> JsonDict:
        if user_id != requester.user_id:
            raise Forbidden("Cannot get filters for other users")
        if not filter_id.isdigit() or len(filter_id) > 18:
            raise NotFound("No such filter")
        async with self._db.read() as conn:
            found = await repo.get_filter(conn, user_id, int(filter_id))
        if found is None:
            raise NotFound("No such filter")
        return found

    # --- account data ----------------------------------------------------------------

    async def set_account_data(
        self, requester: Requester, user_id: str, room_id: str, data_type: str, content: JsonDict
    ) -> None:
        if user_id != requester.user_id:
            raise Forbidden("Cannot add account data for other users")
        if data_type in ("m.fully_read", "m.push_rules"):
            raise MatrixError(400, Codes.BAD_JSON, f"Cannot set {data_type} through this API")

        async def work(ctx: WriteContext) -> None:
            await repo.set_account_data(
                ctx.conn, user_id, room_id, data_type, content, ctx.next_position()
            )
            ctx.users.add(user_id)

        await self._persister.run(work)

    async def get_account_data(
        self, requester: Requester, user_id: str, room_id: str, data_type: str
    ) -> JsonDict:
        if user_id != requester.user_id:
            raise Forbidden("Cannot get account data for other users")
        async with self._db.read() as conn:
            found = await repo.get_account_data(conn, user_id, room_id, data_type)
        if found is None:
            raise NotFound("Account data not found")
        return found
