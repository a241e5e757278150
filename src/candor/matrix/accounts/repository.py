"""SQL for users, access tokens, filters and account data (device rows: devices/)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import JsonDict, decode, decode_dict, encode_canonical
from candor.matrix.accounts.search_terms import search_terms
from candor.matrix.accounts.token_cache import TokenOwner
from candor.store.db import insert_many, upsert
from candor.store.models.accounts import (
    AccessToken,
    AccountData,
    Filter,
    ProfileField,
    RefreshToken,
    ShortLivedToken,
    User,
    UserSearchTerm,
)
from candor.store.models.moderation import AccountRestriction
from candor.store.models.web_sessions import WebSession


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    is_admin: bool
    displayname: str | None
    avatar_url: str | None
    deactivated: bool


class UserExists(Exception):
    """The unique key on users.user_id refused a second registration."""


async def get_user(conn: AsyncConnection, user_id: str) -> UserRecord | None:
    row = (
        await conn.execute(
            select(
                User.user_id,
                User.password_hash,
                User.is_admin,
                User.displayname,
                User.avatar_url,
                User.deactivated,
            ).where(User.user_id == user_id)
        )
    ).first()
    return None if row is None else UserRecord(*row)


async def add_user(
    conn: AsyncConnection,
    user_id: str,
    password_hash: str | None,
    *,
    is_admin: bool,
    displayname: str | None,
    ts: int,
) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(User).values(
                    user_id=user_id,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    displayname=displayname,
                    created_ts=ts,
                    deactivated=False,
                )
            )
    except IntegrityError as exc:
        raise UserExists(user_id) from exc
    await _add_search_terms(conn, user_id, displayname)


async def get_displaynames(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, str]:
    """The display names set by these accounts (live ones; unset names are absent)."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        select(User.user_id, User.displayname).where(
            User.user_id.in_(list(user_ids)),
            User.displayname.is_not(None),
            User.deactivated.is_(False),
        )
    )
    return {r[0]: r[1] for r in rows if r[1]}


async def set_password(conn: AsyncConnection, user_id: str, password_hash: str) -> None:
    await conn.execute(
        update(User).where(User.user_id == user_id).values(password_hash=password_hash)
    )


async def set_profile_field(
    conn: AsyncConnection, user_id: str, field: str, value: str | None
) -> None:
    await conn.execute(update(User).where(User.user_id == user_id).values({field: value}))
    if field == "displayname":
        await set_search_terms(conn, user_id, value)


async def set_search_terms(conn: AsyncConnection, user_id: str, displayname: str | None) -> None:
    """Replace what people search the user by, in the transaction that changes the name."""
    await conn.execute(delete(UserSearchTerm).where(UserSearchTerm.user_id == user_id))
    await _add_search_terms(conn, user_id, displayname)


async def _add_search_terms(conn: AsyncConnection, user_id: str, displayname: str | None) -> None:
    await insert_many(
        conn,
        UserSearchTerm,
        [
            {"term": term, "user_id": user_id, "kind": int(kind)}
            for term, kind in sorted(search_terms(user_id, displayname))
        ],
    )


# --- access tokens ----------------------------------------------------------------------


async def delete_tokens(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> None:
    """Delete access and refresh tokens of the given devices; `None`: every device."""
    tokens = delete(AccessToken).where(AccessToken.user_id == user_id)
    refresh = delete(RefreshToken).where(RefreshToken.user_id == user_id)
    if device_ids is not None:
        tokens = tokens.where(AccessToken.device_id.in_(device_ids))
        refresh = refresh.where(RefreshToken.device_id.in_(device_ids))
    await conn.execute(tokens)
    await conn.execute(refresh)


async def add_token(
    conn: AsyncConnection,
    token_hash: str,
    user_id: str,
    device_id: str,
    ts: int,
    *,
    expires_ts: int | None = None,
    retires: str | None = None,
) -> None:
    await conn.execute(
        insert(AccessToken).values(
            token_hash=token_hash,
            user_id=user_id,
            device_id=device_id,
            created_ts=ts,
            expires_ts=expires_ts,
            retires=retires,
        )
    )


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An access token's row: whose, on which device, the account's flags (admin, locked,
    suspended), when it expires (a token with a refresh token) and which refresh token its
    first use retires."""

    user_id: str
    device_id: str
    is_admin: bool
    locked: bool
    suspended: bool
    expires_ts: int | None
    retires: str | None

    def owner(self) -> TokenOwner:
        return (self.user_id, self.device_id, self.is_admin, self.locked, self.suspended)


async def get_token_owner(conn: AsyncConnection, token_hash: str) -> TokenRecord | None:
    row = (
        await conn.execute(
            select(
                AccessToken.user_id,
                AccessToken.device_id,
                User.is_admin,
                AccountRestriction.locked,
                AccountRestriction.suspended,
                AccessToken.expires_ts,
                AccessToken.retires,
            )
            .join(User, User.user_id == AccessToken.user_id)
            .outerjoin(AccountRestriction, AccountRestriction.user_id == AccessToken.user_id)
            .where(AccessToken.token_hash == token_hash, User.deactivated.is_(False))
        )
    ).first()
    if row is None:
        return None
    return TokenRecord(row[0], row[1], bool(row[2]), bool(row[3]), bool(row[4]), row[5], row[6])


async def is_locked(conn: AsyncConnection, user_id: str) -> bool:
    """Whether an administrator locked the account (`moderation`)."""
    found = await conn.scalar(
        select(AccountRestriction.locked).where(AccountRestriction.user_id == user_id)
    )
    return bool(found)


async def retire_refresh_token(conn: AsyncConnection, token_hash: str, retires: str) -> None:
    """The access token `token_hash` was used: the refresh token it replaced is done."""
    await conn.execute(delete(RefreshToken).where(RefreshToken.token_hash == retires))
    await conn.execute(
        update(AccessToken).where(AccessToken.token_hash == token_hash).values(retires=None)
    )


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    user_id: str
    device_id: str
    access_hash: str
    replaces: str | None
    next_hash: str | None


async def get_refresh_token(conn: AsyncConnection, token_hash: str) -> RefreshRecord | None:
    row = (
        await conn.execute(
            select(
                RefreshToken.user_id,
                RefreshToken.device_id,
                RefreshToken.access_hash,
                RefreshToken.replaces,
                RefreshToken.next_hash,
            )
            .join(User, User.user_id == RefreshToken.user_id)
            .where(RefreshToken.token_hash == token_hash, User.deactivated.is_(False))
            # Two refreshes with one token at once: the second waits and sees the first's
            # rotation (PostgreSQL; SQLite runs one write at a time anyway).
            .with_for_update(of=RefreshToken)
        )
    ).first()
    return None if row is None else RefreshRecord(*row)


async def add_refresh_token(
    conn: AsyncConnection,
    token_hash: str,
    user_id: str,
    device_id: str,
    access_hash: str,
    ts: int,
    *,
    replaces: str | None = None,
) -> None:
    await conn.execute(
        insert(RefreshToken).values(
            token_hash=token_hash,
            user_id=user_id,
            device_id=device_id,
            access_hash=access_hash,
            replaces=replaces,
            next_hash=None,
            created_ts=ts,
        )
    )


async def set_next_refresh_token(conn: AsyncConnection, token_hash: str, next_hash: str) -> None:
    """`token_hash` was used and replaced by `next_hash`; it no longer retires anything."""
    await conn.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash)
        .values(next_hash=next_hash, replaces=None)
    )


async def delete_refresh_pair(conn: AsyncConnection, refresh_hash: str | None) -> None:
    """Delete a refresh token and the access token issued with it."""
    if refresh_hash is None:
        return
    access = await conn.scalar(
        select(RefreshToken.access_hash).where(RefreshToken.token_hash == refresh_hash)
    )
    await conn.execute(delete(RefreshToken).where(RefreshToken.token_hash == refresh_hash))
    if access is not None:
        await delete_access_token(conn, access)


async def delete_refresh_token(conn: AsyncConnection, refresh_hash: str | None) -> None:
    if refresh_hash is not None:
        await conn.execute(delete(RefreshToken).where(RefreshToken.token_hash == refresh_hash))


async def delete_access_token(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(AccessToken).where(AccessToken.token_hash == token_hash))


# --- login and OpenID tokens ------------------------------------------------------------


async def add_short_lived_token(
    conn: AsyncConnection, token_hash: str, kind: str, user_id: str, expires_ts: int
) -> None:
    await conn.execute(
        insert(ShortLivedToken).values(
            token_hash=token_hash, kind=kind, user_id=user_id, expires_ts=expires_ts
        )
    )


async def take_short_lived_token(
    conn: AsyncConnection, token_hash: str, kind: str, now: int, *, single_use: bool
) -> str | None:
    """The live account a token of `kind` names if it has not expired (deleted first
    when `single_use`, so two logins with one token cannot both succeed)."""
    where = (ShortLivedToken.token_hash == token_hash, ShortLivedToken.kind == kind)
    if single_use:
        result = await conn.execute(
            delete(ShortLivedToken)
            .where(*where)
            .returning(ShortLivedToken.user_id, ShortLivedToken.expires_ts)
        )
        row = result.first()
    else:
        row = (
            await conn.execute(
                select(ShortLivedToken.user_id, ShortLivedToken.expires_ts).where(*where)
            )
        ).first()
    if row is None or row[1] <= now:
        return None
    user = await get_user(conn, row[0])
    return None if user is None or user.deactivated else user.user_id


async def delete_expired_short_lived_tokens(conn: AsyncConnection, user_id: str, now: int) -> None:
    """Drop the user's expired login and OpenID tokens (done whenever one is issued, so
    the table holds at most what a person asked for within a lifetime)."""
    await conn.execute(
        delete(ShortLivedToken).where(
            ShortLivedToken.user_id == user_id, ShortLivedToken.expires_ts <= now
        )
    )


# --- extended profile fields -------------------------------------------------------------


async def get_profile_fields(conn: AsyncConnection, user_id: str) -> dict[str, object]:
    rows = await conn.execute(
        select(ProfileField.key, ProfileField.value).where(ProfileField.user_id == user_id)
    )
    return {r[0]: decode(r[1]) for r in rows}


async def set_profile_extra(conn: AsyncConnection, user_id: str, key: str, value: object) -> None:
    await upsert(
        conn,
        ProfileField,
        {"user_id": user_id, "key": key, "value": encode_canonical(value).decode()},
        ("user_id", "key"),
    )


async def delete_profile_extra(conn: AsyncConnection, user_id: str, key: str) -> None:
    await conn.execute(
        delete(ProfileField).where(ProfileField.user_id == user_id, ProfileField.key == key)
    )


# --- filters -----------------------------------------------------------------------------


async def add_filter(conn: AsyncConnection, user_id: str, filter_json: JsonDict) -> int:
    result = await conn.execute(
        insert(Filter)
        .values(user_id=user_id, filter_json=encode_canonical(filter_json).decode())
        .returning(Filter.filter_id)
    )
    return int(result.scalar_one())


async def get_filter(conn: AsyncConnection, user_id: str, filter_id: int) -> JsonDict | None:
    raw = await conn.scalar(
        select(Filter.filter_json).where(Filter.user_id == user_id, Filter.filter_id == filter_id)
    )
    return None if raw is None else decode_dict(raw)


# --- account data ------------------------------------------------------------------------


async def set_account_data(
    conn: AsyncConnection, user_id: str, room_id: str, data_type: str, content: JsonDict, pos: int
) -> None:
    await upsert(
        conn,
        AccountData,
        {
            "user_id": user_id,
            "room_id": room_id,
            "type": data_type,
            "content": encode_canonical(content).decode(),
            "stream_pos": pos,
        },
        ("user_id", "room_id", "type"),
    )


async def get_account_data(
    conn: AsyncConnection, user_id: str, room_id: str, data_type: str
) -> JsonDict | None:
    raw = await conn.scalar(
        select(AccountData.content).where(
            AccountData.user_id == user_id,
            AccountData.room_id == room_id,
            AccountData.type == data_type,
        )
    )
    return None if raw is None else decode_dict(raw)


_ACCOUNT_DATA = select(AccountData.room_id, AccountData.type, AccountData.content).where(
    AccountData.user_id == bindparam("user_id"),
    AccountData.stream_pos > bindparam("after"),
    AccountData.stream_pos <= bindparam("upto"),
)


async def list_account_data(
    conn: AsyncConnection, user_id: str, *, after: int, upto: int
) -> list[tuple[str, str, JsonDict]]:
    """(room_id, type, content) changed in (after, upto]; room_id '' is global."""
    rows = await conn.execute(_ACCOUNT_DATA, {"user_id": user_id, "after": after, "upto": upto})
    return [(r[0], r[1], decode_dict(r[2])) for r in rows]


async def delete_web_sessions_of(conn: AsyncConnection, user_id: str) -> int:
    """End every browser session of a user (a changed password must log them out)."""
    result = await conn.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount or 0)


async def deactivate_user(conn: AsyncConnection, user_id: str) -> bool:
    """Mark the account deactivated and drop what it kept about itself: its password hash,
    profile (extended fields too), search terms, filters, account data, access, refresh,
    login and OpenID tokens, and browser sessions. The row stays, so the user id is never registered again. False if already done."""
    result = await conn.execute(
        update(User)
        .where(User.user_id == user_id, User.deactivated.is_(False))
        .values(deactivated=True, password_hash=None, displayname=None, avatar_url=None)
    )
    await conn.execute(delete(UserSearchTerm).where(UserSearchTerm.user_id == user_id))
    await conn.execute(delete(Filter).where(Filter.user_id == user_id))
    await conn.execute(delete(AccountData).where(AccountData.user_id == user_id))
    await conn.execute(delete(AccessToken).where(AccessToken.user_id == user_id))
    await conn.execute(delete(RefreshToken).where(RefreshToken.user_id == user_id))
    await conn.execute(delete(ShortLivedToken).where(ShortLivedToken.user_id == user_id))
    await conn.execute(delete(ProfileField).where(ProfileField.user_id == user_id))
    await conn.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return bool(result.rowcount)
