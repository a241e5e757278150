"""Extended profile fields (spec v1.16): `m.tz` and namespaced custom keys beside
`displayname` and `avatar_url`.

https://spec.matrix.org/v1.16/client-server-api/#profiles
`displayname` and `avatar_url` stay columns of `users` (member events, people search and
partner apps read them there; `AccountsService.set_profile_field` writes them); every other
key is a row of `profile_fields` holding its canonical JSON. Rules: a key is at most 255
bytes (`M_KEY_TOO_LARGE`) and matches the spec's grammar (`m.tz` or a namespaced
`[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+` key outside the reserved `m.` namespace), `m.tz`
is a string, and the whole profile stays under 64 KiB of JSON (`M_PROFILE_TOO_LARGE`).
Only the owner (or a server admin, as for display names) changes a profile.
"""

import re
from typing import Final

from candor.core.canonical_json import JsonDict, encode_canonical
from candor.matrix.accounts import facts
from candor.matrix.accounts import repository as repo
from candor.matrix.accounts.service import AccountsService
from candor.matrix.errors import (
    Codes,
    Forbidden,
    InvalidParam,
    MatrixError,
    MissingParam,
    NotFound,
)
from candor.matrix.requester import Requester
from candor.store.db import Database

MAX_KEY_BYTES: Final = 255
MAX_PROFILE_BYTES: Final = 65536
TIMEZONE: Final = "m.tz"
# Kept on `users`, written through AccountsService (member events follow them).
BASIC_FIELDS: Final = ("displayname", "avatar_url")
_KEY_RE = re.compile(r"(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)")


def check_key(key: str) -> None:
    """Refuse a key the spec does not allow to be set (400)."""
    if len(key.encode()) > MAX_KEY_BYTES:
        raise MatrixError(
            400, Codes.KEY_TOO_LARGE, f"A profile key is at most {MAX_KEY_BYTES} bytes"
        )
    if not _KEY_RE.fullmatch(key) or (key.startswith("m.") and key != TIMEZONE):
        raise InvalidParam("Invalid profile key")


class ProfileService:
    def __init__(self, db: Database, accounts: AccountsService) -> None:
        self._db = db
        self._accounts = accounts

    async def profile(self, user_id: str) -> JsonDict:
        """Every field of a live account's profile (404 for unknown or deactivated)."""
        async with self._db.read() as conn:
            basic = await facts.profile(conn, user_id)
            if basic is None:
                raise NotFound("Profile not found")
            return {**await repo.get_profile_fields(conn, user_id), **basic}

    async def field(self, user_id: str, key: str) -> JsonDict:
        found = await self.profile(user_id)
        if key not in found:
            raise NotFound("Profile field not set")
        return {key: found[key]}

    async def set_field(self, requester: Requester, user_id: str, key: str, body: JsonDict) -> None:
        """PUT /profile/{userId}/{keyName} with `{keyName: value}`."""
        _check_own(requester, user_id)
        check_key(key)
        if key not in body:
            raise MissingParam(f"The body must have the property {key!r}")
        value = body[key]
        if key in BASIC_FIELDS:
            if value is not None and not isinstance(value, str):
                raise InvalidParam(f"{key} must be a string")
            await self._accounts.set_profile_field(requester, user_id, key, value)
            return
        if key == TIMEZONE and not isinstance(value, str):
            raise InvalidParam("m.tz must be a string (an IANA time zone name)")
        async with self._db.write() as conn:
            basic = await facts.profile(conn, user_id)
            if basic is None:
                raise NotFound("Profile not found")
            fields = await repo.get_profile_fields(conn, user_id)
            if len(encode_canonical({**fields, **basic, key: value})) >= MAX_PROFILE_BYTES:
                raise MatrixError(400, Codes.PROFILE_TOO_LARGE, "The profile would exceed 64 KiB")
            await repo.set_profile_extra(conn, user_id, key, value)

    async def delete_field(self, requester: Requester, user_id: str, key: str) -> None:
        """DELETE /profile/{userId}/{keyName}: 200 whether or not the field was set."""
        _check_own(requester, user_id)
        check_key(key)
        if key in BASIC_FIELDS:
            await self._accounts.set_profile_field(requester, user_id, key, None)
            return
        async with self._db.write() as conn:
            await repo.delete_profile_extra(conn, user_id, key)


def _check_own(requester: Requester, user_id: str) -> None:
    if user_id != requester.user_id and not requester.is_admin:
        raise Forbidden("You may only change your own profile")
